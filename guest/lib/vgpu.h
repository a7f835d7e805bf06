/* SPDX-License-Identifier: MIT */
/*
 * libvgpu: a small C API over /dev/vgpuN (the vgpu kernel module).
 *
 * Every call is synchronous: it returns when the device has completed the
 * work. Calls return 0 or a negative errno (errno is set too); the context
 * keeps a message about the last failure (vgpu_last_error). Handles belong
 * to the context's open file: they mean nothing to another context and the
 * memory behind them is freed when the context is closed.
 */
#ifndef LIBVGPU_H
#define LIBVGPU_H

#include <stddef.h>
#include <stdint.h>

#include "uapi/vgpu.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vgpu vgpu_t;

/* path NULL: /dev/vgpu0. Returns NULL with errno set. */
vgpu_t* vgpu_open(const char* path);
void vgpu_close(vgpu_t* g);
int vgpu_fd(const vgpu_t* g);
const char* vgpu_last_error(const vgpu_t* g);

int vgpu_info(vgpu_t* g, struct vgpu_info* out);
int vgpu_nop(vgpu_t* g);
int vgpu_ping(vgpu_t* g, uint64_t x, uint64_t* not_x);
int vgpu_alloc(vgpu_t* g, uint64_t bytes, uint64_t* handle);
int vgpu_free(vgpu_t* g, uint64_t handle);
/* Any length: split into transfers of at most VGPU_MAX_TRANSFER. */
int vgpu_memcpy_htod(vgpu_t* g, uint64_t dst, uint64_t dst_off, const void* src, size_t len);
int vgpu_memcpy_dtoh(vgpu_t* g, void* dst, uint64_t src, uint64_t src_off, size_t len);
int vgpu_fill(vgpu_t* g, uint64_t h, uint64_t off, uint64_t len, uint32_t pattern);
int vgpu_copy(vgpu_t* g, uint64_t dst, uint64_t dst_off, uint64_t src, uint64_t src_off,
              uint64_t len);
/* y[i] = a * x[i] + y[i], i < n, both from offset 0. */
int vgpu_saxpy(vgpu_t* g, uint64_t x, uint64_t y, uint64_t n, float a);
int vgpu_crc32c(vgpu_t* g, uint64_t h, uint64_t off, uint64_t len, uint32_t* crc);
/* Returns once everything submitted before it has completed. */
int vgpu_synchronize(vgpu_t* g);

/* A raw batch (1..VGPU_MAX_BATCH commands, one ioctl). Returns the ioctl's
 * error, else the first command's error; every command's status, error and
 * result are filled in. timeout_ms 0: the driver's default. */
int vgpu_submit(vgpu_t* g, struct vgpu_cmd* cmds, unsigned n, unsigned timeout_ms);

/* Text for a device status code (VGPU_ST_*). */
const char* vgpu_status_name(uint32_t status);

#ifdef __cplusplus
}
#endif
#endif
