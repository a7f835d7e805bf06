/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * vgpu: the interface between the guest driver (guest/linux) and its users
 * (guest/lib, guest/tools). Shared verbatim by the kernel module and
 * userspace, so it uses only the fixed-width __u types of <linux/types.h>.
 *
 * A user submits a batch of commands with VGPU_IOC_SUBMIT and the ioctl
 * returns when every command of the batch has completed (or on a signal or
 * the timeout). Handles are the open file's own: the driver translates them
 * to the device's, so a handle is useless on any other file. Addresses in
 * READ and WRITE are user pointers; the driver pins the pages and hands the
 * device DMA addresses only.
 *
 * The device's queue is docs/spec.md Part II (§8-§10).
 */
#ifndef _UAPI_LINUX_VGPU_H
#define _UAPI_LINUX_VGPU_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define VGPU_UAPI_VERSION 1

/* Opcodes: the device's (docs/spec.md §9). */
#define VGPU_OP_NOP 0x00
#define VGPU_OP_PING 0x01   /* args[0] x -> result ~x */
#define VGPU_OP_ALLOC 0x10  /* args[0] bytes -> result: a handle of this file */
#define VGPU_OP_FREE 0x11   /* args[0] handle */
#define VGPU_OP_WRITE 0x12  /* args: handle, offset, length, user address (to the device) */
#define VGPU_OP_READ 0x13   /* args: handle, offset, length, user address (from the device) */
#define VGPU_OP_FILL 0x20   /* args: handle, offset, length (multiple of 4), u32 pattern */
#define VGPU_OP_COPY 0x21   /* args: src handle, src offset, dst handle, dst offset, length */
#define VGPU_OP_SAXPY 0x22  /* args: x handle, y handle, n, f32 a in the low 32 bits */
#define VGPU_OP_CRC32C 0x23 /* args: handle, offset, length -> result the CRC-32C */

/* Device status codes (docs/spec.md §9), reported per command. */
#define VGPU_ST_SUCCESS 0
#define VGPU_ST_INVALID_OPCODE 1
#define VGPU_ST_INVALID_FIELD 2
#define VGPU_ST_INVALID_ADDRESS 3
#define VGPU_ST_NO_MEMORY 4
#define VGPU_ST_INVALID_HANDLE 5
#define VGPU_ST_OUT_OF_RANGE 6
#define VGPU_ST_ABORTED 7
#define VGPU_ST_NOT_RUN 0xffff /* the driver did not (or not fully) run it */

/* Limits the driver enforces before anything reaches the device. */
#define VGPU_MAX_BATCH 64		/* commands per VGPU_IOC_SUBMIT */
#define VGPU_MAX_TRANSFER (64ull << 20) /* bytes per READ/WRITE (the device's limit) */
#define VGPU_MAX_HANDLES_PER_FILE 1024

struct vgpu_cmd {
	__u8 opcode;	 /* VGPU_OP_* */
	__u8 flags;	 /* must be 0 */
	__u16 reserved;	 /* must be 0 */
	__s32 error;	 /* out: 0, or a negative errno (the status mapped) */
	__u64 args[6];	 /* in */
	__u64 result;	 /* out */
	__u32 status;	 /* out: VGPU_ST_* */
	__u32 reserved2; /* must be 0 */
};

struct vgpu_submit {
	__u64 cmds;	  /* user pointer to count struct vgpu_cmd */
	__u32 count;	  /* 1 .. VGPU_MAX_BATCH */
	__u32 flags;	  /* must be 0 */
	__u32 timeout_ms; /* 0: the driver's default (module parameter timeout_ms) */
	__u32 completed;  /* out: how many commands completed */
};

struct vgpu_info {
	__u32 uapi_version;  /* VGPU_UAPI_VERSION */
	__u32 queue_version; /* QUEUE_VERSION */
	__u32 queue_status;  /* QUEUE_STATUS */
	__u32 sq_entries;    /* the rings the driver set up */
	__u32 cq_entries;
	__u32 sq_head;	    /* SQ_HEAD */
	__u32 completions;  /* COMPLETIONS */
	__u32 file_handles; /* live handles of this open file */
	__u64 mem_total;    /* MEM_TOTAL */
	__u64 mem_free;	    /* MEM_FREE */
	__u64 irqs;	    /* interrupts taken since probe */
	__u64 commands;	    /* device commands completed since probe */
	__u64 rejected;	    /* completions rejected (device misbehaving) */
	__u32 resets;	    /* queue resets (all device memory lost) */
	__u32 dev_handles;  /* live handles of every open file together */
	__u64 pinned_pages; /* user pages pinned right now (0 when idle) */
	__u8 bdf[16];	    /* "0000:00:05.0", NUL-terminated */
};

#define VGPU_IOC_MAGIC 'V'
#define VGPU_IOC_INFO _IOR(VGPU_IOC_MAGIC, 0x00, struct vgpu_info)
#define VGPU_IOC_SUBMIT _IOWR(VGPU_IOC_MAGIC, 0x01, struct vgpu_submit)

#endif /* _UAPI_LINUX_VGPU_H */
