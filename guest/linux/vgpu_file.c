// SPDX-License-Identifier: GPL-2.0
/*
 * vgpu: /dev/vgpuN. Every open file has its own handle table; what it
 * allocated is freed when it is closed (or, all at once, when the device is
 * unbound). The ioctl arguments are checked here, completely, before any
 * lock is taken or any page pinned.
 */
#include <linux/fs.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "vgpu_drv.h"

static void vgpu_file_release_ref(struct kref *ref)
{
	struct vgpu_file *vf = container_of(ref, struct vgpu_file, ref);
	struct vgpu_handle *h;
	unsigned long id;

	xa_for_each(&vf->handles, id, h)
		kfree(h);
	xa_destroy(&vf->handles);
	vgpu_dev_put(vf->d);
	kfree(vf);
}

void vgpu_file_put(struct vgpu_file *vf)
{
	kref_put(&vf->ref, vgpu_file_release_ref);
}

static int vgpu_open(struct inode *inode, struct file *f)
{
	/* misc_open holds misc_mtx: remove() cannot deregister under us. */
	struct miscdevice *m = f->private_data;
	struct vgpu_dev *d = container_of(m, struct vgpu_dev, misc);
	struct vgpu_file *vf = kzalloc(sizeof(*vf), GFP_KERNEL);

	if (!vf)
		return -ENOMEM;
	kref_init(&vf->ref);
	xa_init(&vf->handles);
	kref_get(&d->ref);
	vf->d = d;
	f->private_data = vf;
	return 0;
}

/* Frees the file's device memory, up to a ring's worth of FREEs per batch. */
static void vgpu_free_all(struct vgpu_dev *d, struct vgpu_file *vf)
{
	const u32 max = VGPU_SQ_ENTRIES - 1;
	struct vgpu_cmd *cmds = kcalloc(max, sizeof(*cmds), GFP_KERNEL);
	struct vgpu_handle *h;
	unsigned long id, from = 0;

	if (!cmds)
		return; /* the entries go with the file; the device keeps them until reset */
	for (;;) {
		struct vgpu_batch *b;
		u32 n = 0;

		if (vgpu_wait_idle(d, false))
			break;
		xa_for_each_start(&vf->handles, id, h, from) {
			if (h->generation != d->generation)
				continue;
			memset(&cmds[n], 0, sizeof(cmds[n]));
			cmds[n].opcode = VGPU_OP_FREE;
			cmds[n].args[0] = id;
			from = id + 1;
			if (++n == max)
				break;
		}
		if (n == 0)
			break;
		b = vgpu_batch_alloc(vf, n);
		if (!b)
			break;
		b->ucmds = cmds;
		if (vgpu_batch_prepare(d, b)) {
			vgpu_batch_finish(d, b, VGPU_ST_NOT_RUN);
			vgpu_batch_free(b);
			break;
		}
		if (vgpu_batch_run(d, b, msecs_to_jiffies(vgpu_timeout_ms), false) == 0) {
			vgpu_batch_finish(d, b, VGPU_ST_NOT_RUN);
			vgpu_batch_free(b);
		}
	}
	/* An orphaned FREE batch must not touch the table once we drop it. */
	vgpu_wait_idle(d, false);
	kfree(cmds);
}

static int vgpu_release(struct inode *inode, struct file *f)
{
	struct vgpu_file *vf = f->private_data;
	struct vgpu_dev *d = vf->d;

	mutex_lock(&d->submit_lock);
	if (!d->gone)
		vgpu_free_all(d, vf);
	mutex_unlock(&d->submit_lock);
	vgpu_file_put(vf);
	return 0;
}

static int vgpu_check_cmd(const struct vgpu_cmd *c)
{
	if (c->flags || c->reserved || c->reserved2)
		return -EINVAL;
	switch (c->opcode) {
	case VGPU_OP_NOP:
	case VGPU_OP_PING:
	case VGPU_OP_ALLOC:
	case VGPU_OP_FREE:
	case VGPU_OP_FILL:
	case VGPU_OP_COPY:
	case VGPU_OP_SAXPY:
	case VGPU_OP_CRC32C:
		return 0;
	case VGPU_OP_WRITE:
	case VGPU_OP_READ:
		if (c->args[2] == 0 || c->args[2] > VGPU_MAX_TRANSFER)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

static long vgpu_ioc_submit(struct vgpu_file *vf, struct vgpu_submit __user *arg)
{
	struct vgpu_dev *d = vf->d;
	struct vgpu_submit s;
	struct vgpu_cmd *cmds;
	struct vgpu_batch *b;
	unsigned long timeout;
	u32 i, done = 0;
	long err;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	if (s.flags || s.count == 0 || s.count > VGPU_MAX_BATCH || s.timeout_ms > 600000)
		return -EINVAL;
	timeout = msecs_to_jiffies(s.timeout_ms ? s.timeout_ms : vgpu_timeout_ms);
	cmds = kcalloc(s.count, sizeof(*cmds), GFP_KERNEL);
	if (!cmds)
		return -ENOMEM;
	if (copy_from_user(cmds, u64_to_user_ptr(s.cmds), s.count * sizeof(*cmds))) {
		err = -EFAULT;
		goto out_free;
	}
	for (i = 0; i < s.count; i++) {
		err = vgpu_check_cmd(&cmds[i]);
		if (err)
			goto out_free;
		cmds[i].error = 0;
		cmds[i].result = 0;
		cmds[i].status = VGPU_ST_NOT_RUN;
	}

	if (mutex_lock_interruptible(&d->submit_lock)) {
		err = -EINTR;
		goto out_free;
	}
	err = d->gone ? -ENODEV : vgpu_wait_idle(d, true);
	if (err)
		goto out_unlock;
	b = vgpu_batch_alloc(vf, s.count);
	if (!b) {
		err = -ENOMEM;
		goto out_unlock;
	}
	b->ucmds = cmds;
	err = vgpu_batch_prepare(d, b);
	if (err) {
		/* Nothing ran; the command at fault carries the error. */
		for (i = 0; i < s.count; i++)
			if (!cmds[i].error)
				cmds[i].error = -ECANCELED;
		vgpu_batch_finish(d, b, VGPU_ST_NOT_RUN);
		vgpu_batch_free(b);
		goto out_copy;
	}
	err = vgpu_batch_run(d, b, timeout, true);
	if (err == -EINTR || err == -ETIMEDOUT)
		goto out_unlock; /* orphaned: the results are not known */
	if (!err) {
		vgpu_batch_finish(d, b, VGPU_ST_NOT_RUN);
		vgpu_batch_free(b);
	}
out_copy:
	mutex_unlock(&d->submit_lock);
	for (i = 0; i < s.count; i++)
		done += cmds[i].status != VGPU_ST_NOT_RUN;
	if (copy_to_user(u64_to_user_ptr(s.cmds), cmds, s.count * sizeof(*cmds)) ||
	    put_user(done, &arg->completed))
		err = -EFAULT;
	goto out_free;
out_unlock:
	mutex_unlock(&d->submit_lock);
out_free:
	kfree(cmds);
	return err;
}

static long vgpu_ioc_info(struct vgpu_file *vf, struct vgpu_info __user *arg)
{
	struct vgpu_dev *d = vf->d;
	struct vgpu_info in;

	memset(&in, 0, sizeof(in));
	if (mutex_lock_interruptible(&d->submit_lock))
		return -EINTR;
	if (d->gone) {
		mutex_unlock(&d->submit_lock);
		return -ENODEV;
	}
	in.uapi_version = VGPU_UAPI_VERSION;
	in.queue_version = vgpu_rd32(d, VGPU_Q_VERSION);
	in.queue_status = vgpu_rd32(d, VGPU_Q_STATUS);
	in.sq_entries = VGPU_SQ_ENTRIES;
	in.cq_entries = VGPU_CQ_ENTRIES;
	in.sq_head = vgpu_rd32(d, VGPU_Q_SQ_HEAD);
	in.completions = vgpu_rd32(d, VGPU_Q_COMPLETIONS);
	in.mem_total = vgpu_rd64(d, VGPU_Q_MEM_TOTAL);
	in.mem_free = vgpu_rd64(d, VGPU_Q_MEM_FREE);
	in.file_handles = vf->nhandles;
	in.dev_handles = atomic_read(&d->dev_handles);
	in.resets = d->resets;
	spin_lock_irq(&d->lock);
	in.irqs = d->irqs;
	in.commands = d->commands;
	in.rejected = d->rejected;
	spin_unlock_irq(&d->lock);
	in.pinned_pages = atomic64_read(&vgpu_pinned_pages);
	strscpy(in.bdf, pci_name(d->pdev), sizeof(in.bdf));
	mutex_unlock(&d->submit_lock);
	return copy_to_user(arg, &in, sizeof(in)) ? -EFAULT : 0;
}

static long vgpu_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct vgpu_file *vf = f->private_data;

	switch (cmd) {
	case VGPU_IOC_INFO:
		return vgpu_ioc_info(vf, (struct vgpu_info __user *)arg);
	case VGPU_IOC_SUBMIT:
		return vgpu_ioc_submit(vf, (struct vgpu_submit __user *)arg);
	default:
		return -ENOTTY;
	}
}

const struct file_operations vgpu_fops = {
	.owner = THIS_MODULE,
	.open = vgpu_open,
	.release = vgpu_release,
	.unlocked_ioctl = vgpu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};
