/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vgpu: internal structures of the guest driver. The device's contract is
 * docs/spec.md Part II; the user interface is include/uapi/vgpu.h.
 *
 * Life of a batch: VGPU_IOC_SUBMIT copies the user's commands, translates
 * the file's handles to the device's, pins READ/WRITE buffers and builds the
 * device's scatter lists (vgpu_batch_prepare), puts the entries on the SQ a
 * ring's worth at a time and waits for their completions (vgpu_batch_run),
 * then applies the results to the handle table and releases everything
 * (vgpu_batch_finish). One batch is in the device at a time (submit_lock).
 * A waiter that gives up (signal, timeout) leaves its batch to the device
 * ("orphaned"): its pages stay pinned until the completions arrive, and the
 * next submitter waits for that, or resets the queue if it never happens.
 */
#ifndef VGPU_DRV_H
#define VGPU_DRV_H

#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <uapi/vgpu.h>

#define VGPU_DRV_NAME "vgpu"

/* BAR0 registers of the queue (docs/spec.md §8). */
#define VGPU_Q_VERSION 0x400
#define VGPU_Q_CTRL 0x404
#define VGPU_Q_STATUS 0x408
#define VGPU_Q_MAX_ENTRIES 0x40c
#define VGPU_Q_SQ_BASE 0x410
#define VGPU_Q_CQ_BASE 0x418
#define VGPU_Q_SQ_ENTRIES 0x420
#define VGPU_Q_CQ_ENTRIES 0x424
#define VGPU_Q_SQ_TAIL 0x428
#define VGPU_Q_CQ_HEAD 0x42c
#define VGPU_Q_SQ_HEAD 0x430
#define VGPU_Q_COMPLETIONS 0x434
#define VGPU_Q_MEM_TOTAL 0x438
#define VGPU_Q_MEM_FREE 0x440
#define VGPU_BAR0_MIN 0x1000

#define VGPU_QS_READY 0x1
#define VGPU_QS_FATAL 0x2
#define VGPU_QUEUE_MAJOR 1

/* Ring sizes the driver asks for: 16 KiB of SQ, 4 KiB of CQ. */
#define VGPU_SQ_ENTRIES 256
#define VGPU_CQ_ENTRIES 256
#define VGPU_SG_MAX 1024 /* entries of one device scatter list */

struct vgpu_sqe {
	u8 opcode;
	u8 flags;
	__le16 reserved;
	__le32 command_id;
	__le64 arg[7];
};

struct vgpu_cqe {
	__le64 result;
	__le32 command_id;
	__le16 sq_head;
	__le16 status_phase;
};

struct vgpu_sge {
	__le64 addr;
	__le32 len;
	__le32 reserved;
};

struct vgpu_dev {
	struct pci_dev *pdev;
	void __iomem *bar;
	struct kref ref;
	int minor_id; /* N of /dev/vgpuN */
	char name[16];
	struct miscdevice misc;
	int irq;

	struct vgpu_sqe *sq;
	dma_addr_t sq_dma;
	struct vgpu_cqe *cq;
	dma_addr_t cq_dma;

	struct mutex submit_lock; /* one batch in the device; gone; generation */
	spinlock_t lock;	  /* ring indices, active, broken, counters */
	wait_queue_head_t wq;
	struct work_struct reap_work;

	/* under lock */
	u32 sq_tail;
	u32 cq_head;
	u32 phase;
	struct vgpu_batch *active; /* in the device, or NULL */
	bool broken;		   /* a completion was rejected: reset needed */
	bool warned;		   /* the rejection was logged */
	u64 irqs;
	u64 commands;
	u64 rejected;

	/* under submit_lock */
	bool gone;	/* unbound: every call fails with ENODEV */
	u32 generation; /* bumped when the device loses its memory */
	u32 next_cmd_id;
	u32 resets;

	atomic_t next_handle;
	atomic_t dev_handles;
};

/* A handle of one open file and the device handle behind it. */
struct vgpu_handle {
	u64 dev_handle;
	u64 bytes;
	u32 generation;
};

struct vgpu_file {
	struct vgpu_dev *d;
	struct kref ref;
	struct xarray handles; /* file handle -> struct vgpu_handle */
	u32 nhandles;	       /* under d->submit_lock */
};

/* A pinned user buffer of one READ or WRITE. */
struct vgpu_xfer {
	struct page **pages;
	unsigned long npages;
	struct sg_table sgt;
	bool mapped;
	enum dma_data_direction dir;
};

/* One device command. */
struct vgpu_dcmd {
	struct vgpu_sqe sqe;
	u32 user; /* index of the user command it belongs to */
	u32 slot; /* SQ slot */
	u64 result;
	u16 status;
	bool done;
	struct vgpu_sge *list; /* READ/WRITE: the scatter list */
	dma_addr_t list_dma;
	size_t list_bytes;
};

/* What the driver keeps of one user command while its batch is out. */
struct vgpu_ucmd {
	u8 op;
	u32 first_dc; /* its device commands: dc[first_dc .. first_dc + ndc) */
	u32 ndc;
	u32 hid;		 /* ALLOC: the reserved file handle; FREE: the one freed */
	struct vgpu_handle *new; /* ALLOC: the entry published on success */
	struct vgpu_xfer x;	 /* READ, WRITE */
};

struct vgpu_batch {
	struct vgpu_file *vf;
	u32 nuser;
	struct vgpu_cmd *ucmds; /* the caller's copy; NULL once orphaned */
	struct vgpu_ucmd *u;
	u32 ndc;
	struct vgpu_dcmd *dc;
	u32 generation; /* of the device memory the batch works on */
	u32 submitted;	/* under d->lock */
	u32 completed;	/* under d->lock */
	bool orphaned;	/* under d->lock */
	bool reaping;	/* under d->lock */
	unsigned long pinned;
};

extern unsigned int vgpu_timeout_ms;
extern atomic64_t vgpu_pinned_pages;

/* vgpu_main.c */
void vgpu_dev_put(struct vgpu_dev *d);
void vgpu_reap_cq_locked(struct vgpu_dev *d);
int vgpu_queue_reset(struct vgpu_dev *d);
u32 vgpu_rd32(struct vgpu_dev *d, unsigned int off);
u64 vgpu_rd64(struct vgpu_dev *d, unsigned int off);

/* vgpu_batch.c */
struct vgpu_batch *vgpu_batch_alloc(struct vgpu_file *vf, u32 nuser);
int vgpu_batch_prepare(struct vgpu_dev *d, struct vgpu_batch *b);
int vgpu_batch_run(struct vgpu_dev *d, struct vgpu_batch *b, unsigned long timeout, bool intr);
void vgpu_batch_finish(struct vgpu_dev *d, struct vgpu_batch *b, u32 forced_status);
void vgpu_batch_free(struct vgpu_batch *b);
int vgpu_wait_idle(struct vgpu_dev *d, bool intr);
int vgpu_status_errno(u32 status);

/* vgpu_file.c */
extern const struct file_operations vgpu_fops;
void vgpu_file_put(struct vgpu_file *vf);

#endif /* VGPU_DRV_H */
