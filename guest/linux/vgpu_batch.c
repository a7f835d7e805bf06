// SPDX-License-Identifier: GPL-2.0
/*
 * vgpu: batches of commands. A user command becomes one device command, or
 * several for a READ/WRITE whose DMA segments do not fit one device scatter
 * list (1024 entries). Handles are translated and user pages pinned and
 * mapped here, before anything reaches the device, so that every error the
 * driver can detect leaves the device untouched.
 */
#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "vgpu_drv.h"

/* Pages one batch may pin: two maximal transfers. */
#define VGPU_BATCH_MAX_PAGES (2 * (VGPU_MAX_TRANSFER >> PAGE_SHIFT))

int vgpu_status_errno(u32 status)
{
	switch (status) {
	case VGPU_ST_SUCCESS:
		return 0;
	case VGPU_ST_INVALID_OPCODE:
		return -EOPNOTSUPP;
	case VGPU_ST_INVALID_FIELD:
		return -EINVAL;
	case VGPU_ST_INVALID_ADDRESS:
		return -EFAULT;
	case VGPU_ST_NO_MEMORY:
		return -ENOMEM;
	case VGPU_ST_INVALID_HANDLE:
		return -EBADF;
	case VGPU_ST_OUT_OF_RANGE:
		return -ERANGE;
	case VGPU_ST_ABORTED:
	case VGPU_ST_NOT_RUN:
		return -ECANCELED;
	default:
		return -EIO; /* a status this driver does not know */
	}
}

struct vgpu_batch *vgpu_batch_alloc(struct vgpu_file *vf, u32 nuser)
{
	struct vgpu_batch *b = kzalloc(sizeof(*b), GFP_KERNEL);

	if (!b)
		return NULL;
	b->u = kcalloc(nuser, sizeof(*b->u), GFP_KERNEL);
	if (!b->u) {
		kfree(b);
		return NULL;
	}
	b->nuser = nuser;
	b->vf = vf;
	kref_get(&vf->ref);
	return b;
}

/* A file handle -> its entry of the current device memory, or an error. */
static int vgpu_lookup(struct vgpu_dev *d, struct vgpu_file *vf, u64 hid, u64 *dev_handle)
{
	struct vgpu_handle *h;

	if (hid == 0 || hid > U32_MAX)
		return -EBADF;
	h = xa_load(&vf->handles, (unsigned long)hid);
	if (!h)
		return -EBADF;
	if (h->generation != d->generation) {
		/* The device lost its memory (reset); the handle is dead. */
		xa_erase(&vf->handles, (unsigned long)hid);
		kfree(h);
		vf->nhandles--;
		return -EIO;
	}
	*dev_handle = h->dev_handle;
	return 0;
}

static int vgpu_pin(struct vgpu_dev *d, struct vgpu_batch *b, struct vgpu_xfer *x, u64 uaddr,
		    u64 len, bool from_device)
{
	const unsigned long first = uaddr >> PAGE_SHIFT;
	const unsigned long last = (uaddr + len - 1) >> PAGE_SHIFT;
	long got;
	int err;

	if (uaddr + len < uaddr || !access_ok(u64_to_user_ptr(uaddr), len))
		return -EFAULT;
	x->npages = last - first + 1;
	if (b->pinned + x->npages > VGPU_BATCH_MAX_PAGES)
		return -E2BIG;
	x->dir = from_device ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	x->pages = kvmalloc_array(x->npages, sizeof(*x->pages), GFP_KERNEL);
	if (!x->pages)
		return -ENOMEM;
	got = pin_user_pages_fast(first << PAGE_SHIFT, x->npages, from_device ? FOLL_WRITE : 0,
				  x->pages);
	if (got != (long)x->npages) {
		if (got > 0)
			unpin_user_pages(x->pages, got);
		kvfree(x->pages);
		x->pages = NULL;
		return got < 0 ? (int)got : -EFAULT;
	}
	b->pinned += x->npages;
	atomic64_add(x->npages, &vgpu_pinned_pages);
	err = sg_alloc_table_from_pages(&x->sgt, x->pages, x->npages, offset_in_page(uaddr), len,
					GFP_KERNEL);
	if (err)
		return err;
	err = dma_map_sgtable(&d->pdev->dev, &x->sgt, x->dir, 0);
	if (err)
		return err;
	x->mapped = true;
	return 0;
}

static void vgpu_unpin(struct vgpu_dev *d, struct vgpu_xfer *x)
{
	if (x->mapped)
		dma_unmap_sgtable(&d->pdev->dev, &x->sgt, x->dir, 0);
	x->mapped = false;
	if (x->sgt.sgl)
		sg_free_table(&x->sgt);
	x->sgt.sgl = NULL;
	if (x->pages) {
		unpin_user_pages_dirty_lock(x->pages, x->npages, x->dir == DMA_FROM_DEVICE);
		atomic64_sub(x->npages, &vgpu_pinned_pages);
		kvfree(x->pages);
		x->pages = NULL;
	}
}

/* Pass 1 for one user command: check, translate, reserve, pin; returns the
 * number of device commands it needs, or an error. */
static int vgpu_prepare_one(struct vgpu_dev *d, struct vgpu_batch *b, u32 i, u64 *dh)
{
	const struct vgpu_cmd *c = &b->ucmds[i];
	struct vgpu_file *vf = b->vf;
	struct vgpu_ucmd *u = &b->u[i];
	int err;
	u32 id;

	u->op = c->opcode;
	switch (c->opcode) {
	case VGPU_OP_NOP:
	case VGPU_OP_PING:
		return 1;
	case VGPU_OP_ALLOC:
		if (vf->nhandles + i >= VGPU_MAX_HANDLES_PER_FILE)
			return -ENOSPC;
		u->new = kzalloc(sizeof(*u->new), GFP_KERNEL);
		if (!u->new)
			return -ENOMEM;
		u->new->bytes = c->args[0];
		/* File handles are unique across the device's files, so that
		 * another file's handle is never a valid one here. */
		do
			id = (u32)atomic_inc_return(&d->next_handle);
		while (id == 0);
		err = xa_reserve(&vf->handles, id, GFP_KERNEL);
		if (err)
			return err;
		u->hid = id;
		return 1;
	case VGPU_OP_FREE:
		err = vgpu_lookup(d, vf, c->args[0], &dh[0]);
		if (err)
			return err;
		u->hid = (u32)c->args[0];
		return 1;
	case VGPU_OP_FILL:
	case VGPU_OP_CRC32C:
		err = vgpu_lookup(d, vf, c->args[0], &dh[0]);
		return err ? err : 1;
	case VGPU_OP_COPY:
		err = vgpu_lookup(d, vf, c->args[0], &dh[0]);
		if (!err)
			err = vgpu_lookup(d, vf, c->args[2], &dh[1]);
		return err ? err : 1;
	case VGPU_OP_SAXPY:
		err = vgpu_lookup(d, vf, c->args[0], &dh[0]);
		if (!err)
			err = vgpu_lookup(d, vf, c->args[1], &dh[1]);
		return err ? err : 1;
	case VGPU_OP_WRITE:
	case VGPU_OP_READ:
		err = vgpu_lookup(d, vf, c->args[0], &dh[0]);
		if (!err)
			err = vgpu_pin(d, b, &u->x, c->args[3], c->args[2],
				       c->opcode == VGPU_OP_READ);
		return err ? err : (int)DIV_ROUND_UP(u->x.sgt.nents, VGPU_SG_MAX);
	default:
		return -EINVAL; /* vgpu_file.c checked already */
	}
}

static void vgpu_sqe_init(struct vgpu_dev *d, struct vgpu_dcmd *dc, u32 user, u8 op)
{
	dc->user = user;
	dc->sqe.opcode = op;
	dc->sqe.command_id = cpu_to_le32(d->next_cmd_id++);
	dc->status = VGPU_ST_NOT_RUN;
}

/* Pass 2 for a READ/WRITE: device commands of up to VGPU_SG_MAX segments. */
static int vgpu_build_xfer(struct vgpu_dev *d, struct vgpu_batch *b, u32 i, u64 dev_handle)
{
	const struct vgpu_cmd *c = &b->ucmds[i];
	struct vgpu_ucmd *u = &b->u[i];
	struct scatterlist *sg = u->x.sgt.sgl;
	u64 offset = c->args[1];
	u32 left = u->x.sgt.nents, k;

	for (k = 0; k < u->ndc; k++) {
		struct vgpu_dcmd *dc = &b->dc[u->first_dc + k];
		u32 n = min_t(u32, left, VGPU_SG_MAX), j;
		u64 bytes = 0;

		vgpu_sqe_init(d, dc, i, u->op);
		dc->list_bytes = n * sizeof(struct vgpu_sge);
		dc->list = dma_alloc_coherent(&d->pdev->dev, dc->list_bytes, &dc->list_dma,
					      GFP_KERNEL);
		if (!dc->list)
			return -ENOMEM;
		for (j = 0; j < n; j++, sg = sg_next(sg)) {
			dc->list[j].addr = cpu_to_le64(sg_dma_address(sg));
			dc->list[j].len = cpu_to_le32(sg_dma_len(sg));
			dc->list[j].reserved = 0;
			bytes += sg_dma_len(sg);
		}
		dc->sqe.arg[0] = cpu_to_le64(dev_handle);
		dc->sqe.arg[1] = cpu_to_le64(offset);
		dc->sqe.arg[2] = cpu_to_le64(bytes);
		dc->sqe.arg[3] = cpu_to_le64(dc->list_dma);
		dc->sqe.arg[4] = cpu_to_le64(n);
		offset += bytes;
		left -= n;
	}
	return 0;
}

int vgpu_batch_prepare(struct vgpu_dev *d, struct vgpu_batch *b)
{
	u64(*dh)[2];
	u32 i, total = 0;
	int err = 0;

	b->generation = d->generation;
	dh = kcalloc(b->nuser, sizeof(*dh), GFP_KERNEL);
	if (!dh)
		return -ENOMEM;
	for (i = 0; i < b->nuser; i++) {
		int n = vgpu_prepare_one(d, b, i, dh[i]);

		if (n < 0) {
			b->ucmds[i].error = n;
			err = n;
			goto out;
		}
		b->u[i].first_dc = total;
		b->u[i].ndc = n;
		total += n;
	}
	b->dc = kvcalloc(total, sizeof(*b->dc), GFP_KERNEL);
	if (!b->dc) {
		err = -ENOMEM;
		goto out;
	}
	b->ndc = total;
	for (i = 0; i < b->nuser; i++) {
		const struct vgpu_cmd *c = &b->ucmds[i];
		struct vgpu_dcmd *dc = &b->dc[b->u[i].first_dc];
		u32 a;

		if (c->opcode == VGPU_OP_READ || c->opcode == VGPU_OP_WRITE) {
			err = vgpu_build_xfer(d, b, i, dh[i][0]);
			if (err)
				goto out;
			continue;
		}
		vgpu_sqe_init(d, dc, i, c->opcode);
		for (a = 0; a < ARRAY_SIZE(c->args); a++)
			dc->sqe.arg[a] = cpu_to_le64(c->args[a]);
		switch (c->opcode) { /* the device's handles in place of the file's */
		case VGPU_OP_FREE:
		case VGPU_OP_FILL:
		case VGPU_OP_CRC32C:
			dc->sqe.arg[0] = cpu_to_le64(dh[i][0]);
			break;
		case VGPU_OP_COPY:
			dc->sqe.arg[0] = cpu_to_le64(dh[i][0]);
			dc->sqe.arg[2] = cpu_to_le64(dh[i][1]);
			break;
		case VGPU_OP_SAXPY:
			dc->sqe.arg[0] = cpu_to_le64(dh[i][0]);
			dc->sqe.arg[1] = cpu_to_le64(dh[i][1]);
			break;
		}
	}
out:
	kfree(dh);
	return err;
}

static bool vgpu_caught_up(struct vgpu_dev *d, struct vgpu_batch *b)
{
	return READ_ONCE(b->completed) == READ_ONCE(b->submitted) || READ_ONCE(d->broken);
}

/*
 * Puts the batch on the SQ, a ring's worth at a time (each chunk's entries
 * with one doorbell), and waits for the completions. Returns 0 with the
 * batch back in the caller's hands; -EINTR or -ETIMEDOUT with the batch left
 * to the device (orphaned: the reaper or the next submitter releases it);
 * or the error of a queue reset, with the batch finished and freed.
 * Caller holds submit_lock and has waited for the device to be idle.
 */
int vgpu_batch_run(struct vgpu_dev *d, struct vgpu_batch *b, unsigned long timeout, bool intr)
{
	long left = (long)timeout;

	spin_lock_irq(&d->lock);
	d->active = b;
	spin_unlock_irq(&d->lock);
	while (READ_ONCE(b->submitted) < b->ndc) {
		u32 k, j, tail;
		long rem;

		spin_lock_irq(&d->lock);
		/* The ring is empty here: a CQ of N holds N - 1 completions. */
		k = min_t(u32, VGPU_SQ_ENTRIES - 1, b->ndc - b->submitted);
		for (j = 0; j < k; j++) {
			struct vgpu_dcmd *dc = &b->dc[b->submitted + j];

			dc->slot = d->sq_tail;
			memcpy(&d->sq[d->sq_tail], &dc->sqe, sizeof(dc->sqe));
			d->sq_tail = (d->sq_tail + 1) % VGPU_SQ_ENTRIES;
		}
		b->submitted += k;
		tail = d->sq_tail;
		spin_unlock_irq(&d->lock);
		/* writel orders the ring's stores before the doorbell. */
		writel(tail, d->bar + VGPU_Q_SQ_TAIL);

		if (intr)
			rem = wait_event_interruptible_timeout(d->wq, vgpu_caught_up(d, b), left);
		else
			rem = wait_event_timeout(d->wq, vgpu_caught_up(d, b), left);
		if (READ_ONCE(d->broken)) {
			int err = vgpu_queue_reset(d); /* finishes and frees b */

			return err ? err : -EIO;
		}
		if (rem > 0) {
			left = rem;
			continue;
		}
		/* Timed out or interrupted: one last look at the CQ (an
		 * interrupt may have been lost), else leave the batch. */
		spin_lock_irq(&d->lock);
		vgpu_reap_cq_locked(d);
		if (b->completed == b->submitted && !d->broken) {
			spin_unlock_irq(&d->lock);
			if (rem < 0)
				break; /* done anyway: report it */
			left = 1;
			continue;
		}
		b->orphaned = true;
		b->ucmds = NULL;
		spin_unlock_irq(&d->lock);
		return rem < 0 ? -EINTR : -ETIMEDOUT;
	}
	spin_lock_irq(&d->lock);
	d->active = NULL;
	spin_unlock_irq(&d->lock);
	return 0;
}

/*
 * Results to the user's commands and to the file's handle table. A device
 * command that did not complete gets forced_status (VGPU_ST_NOT_RUN). Runs under submit_lock
 * or, for an orphaned batch, in the reaper while the batch is still the
 * device's active one (which keeps every other user of the table waiting).
 */
void vgpu_batch_finish(struct vgpu_dev *d, struct vgpu_batch *b, u32 forced_status)
{
	struct vgpu_file *vf = b->vf;
	u32 i, k;

	for (i = 0; i < b->nuser; i++) {
		struct vgpu_ucmd *u = &b->u[i];
		/* No device commands (prepare stopped before them): not run. */
		u32 status = u->ndc && b->dc ? VGPU_ST_SUCCESS : VGPU_ST_NOT_RUN;
		u64 result = 0;

		for (k = 0; k < u->ndc && b->dc; k++) {
			const struct vgpu_dcmd *dc = &b->dc[u->first_dc + k];
			u32 st = dc->done ? dc->status : forced_status;

			if (st != VGPU_ST_SUCCESS && status == VGPU_ST_SUCCESS)
				status = st;
			if (u->op == VGPU_OP_READ || u->op == VGPU_OP_WRITE)
				result += dc->done ? dc->result : 0;
			else
				result = dc->result;
		}
		if (u->op == VGPU_OP_ALLOC && u->hid) {
			if (status == VGPU_ST_SUCCESS && result != 0) {
				u->new->dev_handle = result;
				u->new->generation = b->generation;
				xa_store(&vf->handles, u->hid, u->new, GFP_KERNEL);
				u->new = NULL;
				vf->nhandles++;
				if (b->generation == d->generation)
					atomic_inc(&d->dev_handles);
				result = u->hid;
			} else {
				xa_release(&vf->handles, u->hid);
				result = 0;
			}
		}
		if (u->op == VGPU_OP_FREE && u->hid && status == VGPU_ST_SUCCESS) {
			struct vgpu_handle *h = xa_erase(&vf->handles, u->hid);

			if (h) {
				kfree(h);
				vf->nhandles--;
				if (b->generation == d->generation)
					atomic_dec(&d->dev_handles);
			}
		}
		if (b->ucmds) {
			struct vgpu_cmd *c = &b->ucmds[i];

			c->status = status;
			c->result = result;
			if (!c->error)
				c->error = vgpu_status_errno(status);
		}
	}
}

void vgpu_batch_free(struct vgpu_batch *b)
{
	struct vgpu_dev *d = b->vf->d;
	u32 i;

	for (i = 0; b->dc && i < b->ndc; i++)
		if (b->dc[i].list)
			dma_free_coherent(&d->pdev->dev, b->dc[i].list_bytes, b->dc[i].list,
					  b->dc[i].list_dma);
	for (i = 0; i < b->nuser; i++) {
		struct vgpu_ucmd *u = &b->u[i];

		vgpu_unpin(d, &u->x);
		if (u->op == VGPU_OP_ALLOC && u->hid && u->new) /* never published */
			xa_release(&b->vf->handles, u->hid);
		kfree(u->new);
	}
	kvfree(b->dc);
	kfree(b->u);
	vgpu_file_put(b->vf);
	kfree(b);
}

/* Waits until no batch is in the device, resetting a queue that hangs or
 * misbehaved. Caller holds submit_lock. */
int vgpu_wait_idle(struct vgpu_dev *d, bool intr)
{
	unsigned long t = msecs_to_jiffies(vgpu_timeout_ms);
	long rem;

	if (!READ_ONCE(d->active) && !READ_ONCE(d->broken))
		return 0;
	if (intr)
		rem = wait_event_interruptible_timeout(
			d->wq, !READ_ONCE(d->active) || READ_ONCE(d->broken), t);
	else
		rem = wait_event_timeout(d->wq, !READ_ONCE(d->active) || READ_ONCE(d->broken), t);
	if (rem < 0)
		return -EINTR;
	spin_lock_irq(&d->lock);
	vgpu_reap_cq_locked(d);
	spin_unlock_irq(&d->lock);
	flush_work(&d->reap_work);
	if (READ_ONCE(d->active) || READ_ONCE(d->broken))
		return vgpu_queue_reset(d);
	return 0;
}
