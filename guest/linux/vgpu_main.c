// SPDX-License-Identifier: GPL-2.0
/*
 * vgpu: PCI driver for the vgpu-ioreqd device (1af4:1111) and its command
 * queue (docs/spec.md Part II). This file: probe and remove, the rings, the
 * interrupt and the completion queue, queue reset.
 */
#include <linux/dma-mapping.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "vgpu_drv.h"

unsigned int vgpu_timeout_ms = 30000;
module_param_named(timeout_ms, vgpu_timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms, "default wait for a batch's completions, in ms (1..600000)");

atomic64_t vgpu_pinned_pages = ATOMIC64_INIT(0);
static DEFINE_IDA(vgpu_ida);

u32 vgpu_rd32(struct vgpu_dev *d, unsigned int off)
{
	return readl(d->bar + off);
}

u64 vgpu_rd64(struct vgpu_dev *d, unsigned int off)
{
	u64 lo = readl(d->bar + off);

	return lo | (u64)readl(d->bar + off + 4) << 32;
}

static void vgpu_wr32(struct vgpu_dev *d, unsigned int off, u32 v)
{
	writel(v, d->bar + off);
}

static void vgpu_wr64(struct vgpu_dev *d, unsigned int off, u64 v)
{
	writel(lower_32_bits(v), d->bar + off);
	writel(upper_32_bits(v), d->bar + off + 4);
}

static void vgpu_dev_release(struct kref *ref)
{
	struct vgpu_dev *d = container_of(ref, struct vgpu_dev, ref);

	kfree(d);
}

void vgpu_dev_put(struct vgpu_dev *d)
{
	kref_put(&d->ref, vgpu_dev_release);
}

/*
 * The device never posts what the driver did not ask for; if it does, the
 * completion is not applied (no result reaches a user, no index moves past
 * it), the queue is marked broken and the next caller resets it. Logged once
 * per device so that a hostile device model cannot flood the log.
 */
static void vgpu_reject(struct vgpu_dev *d, const char *why, u32 id, u32 sq_head)
{
	d->broken = true;
	d->rejected++;
	if (!d->warned) {
		d->warned = true;
		dev_warn(&d->pdev->dev,
			 "%s: completion rejected (%s: id %u, sq_head %u); resetting\n", d->name,
			 why, id, sq_head);
	}
}

/* SQ_HEAD in a completion is at least one past the command's entry and at
 * most the tail the driver wrote, both counted around the ring. */
static bool vgpu_sq_head_possible(const struct vgpu_dev *d, u32 slot, u32 sq_head)
{
	const u32 n = VGPU_SQ_ENTRIES;
	const u32 first = (slot + 1) % n;

	if (sq_head >= n)
		return false;
	return (sq_head - first + n) % n <= (d->sq_tail - first + n) % n;
}

/* Consumes new completions; d->lock held. */
void vgpu_reap_cq_locked(struct vgpu_dev *d)
{
	struct vgpu_batch *b = d->active;
	u32 consumed = 0;

	while (!d->broken && consumed < VGPU_CQ_ENTRIES) {
		struct vgpu_cqe *c = &d->cq[d->cq_head];
		u16 sp = le16_to_cpu(READ_ONCE(c->status_phase));
		struct vgpu_dcmd *dc;
		u32 id, sqh;

		if ((sp & 1) != d->phase)
			break;
		/* The device stores the phase last: read the rest after it. */
		dma_rmb();
		id = le32_to_cpu(READ_ONCE(c->command_id));
		sqh = le16_to_cpu(READ_ONCE(c->sq_head));
		if (!b || b->completed >= b->submitted) {
			vgpu_reject(d, "nothing outstanding", id, sqh);
			break;
		}
		dc = &b->dc[b->completed];
		if (id != le32_to_cpu(dc->sqe.command_id)) {
			vgpu_reject(d, "unknown command_id", id, sqh);
			break;
		}
		if (!vgpu_sq_head_possible(d, dc->slot, sqh)) {
			vgpu_reject(d, "impossible sq_head", id, sqh);
			break;
		}
		dc->result = le64_to_cpu(READ_ONCE(c->result));
		dc->status = sp >> 1;
		dc->done = true;
		b->completed++;
		d->commands++;
		consumed++;
		if (++d->cq_head == VGPU_CQ_ENTRIES) {
			d->cq_head = 0;
			d->phase ^= 1;
		}
	}
	if (consumed)
		vgpu_wr32(d, VGPU_Q_CQ_HEAD, d->cq_head);
	if (b && (b->completed == b->submitted || d->broken)) {
		wake_up_all(&d->wq);
		if (b->orphaned && !b->reaping && !d->broken)
			schedule_work(&d->reap_work);
	}
}

static irqreturn_t vgpu_irq(int irq, void *data)
{
	struct vgpu_dev *d = data;

	spin_lock(&d->lock);
	d->irqs++;
	vgpu_reap_cq_locked(d);
	spin_unlock(&d->lock);
	return IRQ_HANDLED;
}

/* An orphaned batch whose completions all arrived: release it. */
static void vgpu_reap_work(struct work_struct *w)
{
	struct vgpu_dev *d = container_of(w, struct vgpu_dev, reap_work);
	struct vgpu_batch *b;

	spin_lock_irq(&d->lock);
	b = d->active;
	if (b && b->orphaned && !b->reaping && b->completed == b->submitted && !d->broken)
		b->reaping = true;
	else
		b = NULL;
	spin_unlock_irq(&d->lock);
	if (!b)
		return;
	vgpu_batch_finish(d, b, VGPU_ST_NOT_RUN);
	spin_lock_irq(&d->lock);
	d->active = NULL;
	spin_unlock_irq(&d->lock);
	vgpu_batch_free(b);
	wake_up_all(&d->wq);
}

/* ENABLE 0 -> 1 with empty rings (docs/spec.md §8). */
static int vgpu_queue_enable(struct vgpu_dev *d)
{
	u32 st;

	/* Whoever used the queue before us (firmware, a previous driver, a
	 * userspace test) may have left it enabled with its own rings: the
	 * bases only take while ENABLE is 0. */
	if (vgpu_rd32(d, VGPU_Q_CTRL) & 1)
		vgpu_wr32(d, VGPU_Q_CTRL, 0);
	memset(d->sq, 0, VGPU_SQ_ENTRIES * sizeof(*d->sq));
	memset(d->cq, 0, VGPU_CQ_ENTRIES * sizeof(*d->cq));
	spin_lock_irq(&d->lock);
	d->sq_tail = 0;
	d->cq_head = 0;
	d->phase = 1;
	d->broken = false;
	spin_unlock_irq(&d->lock);
	vgpu_wr64(d, VGPU_Q_SQ_BASE, d->sq_dma);
	vgpu_wr64(d, VGPU_Q_CQ_BASE, d->cq_dma);
	vgpu_wr32(d, VGPU_Q_SQ_ENTRIES, VGPU_SQ_ENTRIES);
	vgpu_wr32(d, VGPU_Q_CQ_ENTRIES, VGPU_CQ_ENTRIES);
	vgpu_wr32(d, VGPU_Q_CTRL, 1);
	st = vgpu_rd32(d, VGPU_Q_STATUS);
	if (st != VGPU_QS_READY) {
		dev_err(&d->pdev->dev, "queue not ready after ENABLE: QUEUE_STATUS %#x\n", st);
		vgpu_wr32(d, VGPU_Q_CTRL, 0);
		return -EIO;
	}
	return 0;
}

/*
 * ENABLE 1 -> 0: answered only once the device has stopped touching guest
 * memory and freed all device memory (docs/spec.md §8). Afterwards no
 * completion can arrive; a batch still in the device ends as NOT_RUN.
 * Caller holds submit_lock.
 */
static void vgpu_queue_stop(struct vgpu_dev *d)
{
	struct vgpu_batch *b;

	vgpu_wr32(d, VGPU_Q_CTRL, 0);
	synchronize_irq(d->irq);
	flush_work(&d->reap_work);
	spin_lock_irq(&d->lock);
	b = d->active;
	d->active = NULL;
	spin_unlock_irq(&d->lock);
	/* Every device handle is gone with the device memory. */
	d->generation++;
	atomic_set(&d->dev_handles, 0);
	if (b) {
		vgpu_batch_finish(d, b, VGPU_ST_NOT_RUN);
		vgpu_batch_free(b);
	}
	wake_up_all(&d->wq);
}

/* Recovers from a broken or hung queue; caller holds submit_lock. */
int vgpu_queue_reset(struct vgpu_dev *d)
{
	d->resets++;
	dev_notice(&d->pdev->dev, "%s: resetting the queue; all device memory is lost\n", d->name);
	vgpu_queue_stop(d);
	return vgpu_queue_enable(d);
}

static int vgpu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vgpu_dev *d;
	u32 version;
	int err;

	err = pci_enable_device_mem(pdev);
	if (err)
		return err;
	if (pci_resource_len(pdev, 0) < VGPU_BAR0_MIN) {
		err = -ENODEV;
		goto out_disable;
	}
	err = pci_request_regions(pdev, VGPU_DRV_NAME);
	if (err)
		goto out_disable;
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d) {
		err = -ENOMEM;
		goto out_regions;
	}
	kref_init(&d->ref);
	d->pdev = pdev;
	mutex_init(&d->submit_lock);
	spin_lock_init(&d->lock);
	init_waitqueue_head(&d->wq);
	INIT_WORK(&d->reap_work, vgpu_reap_work);
	atomic_set(&d->next_handle, 0);
	d->minor_id = ida_alloc(&vgpu_ida, GFP_KERNEL);
	if (d->minor_id < 0) {
		err = d->minor_id;
		kfree(d);
		goto out_regions;
	}
	snprintf(d->name, sizeof(d->name), "vgpu%d", d->minor_id);
	d->bar = pci_iomap(pdev, 0, VGPU_BAR0_MIN);
	if (!d->bar) {
		err = -ENOMEM;
		goto out_put;
	}

	version = vgpu_rd32(d, VGPU_Q_VERSION);
	if (version == 0 || version >> 16 != VGPU_QUEUE_MAJOR) {
		/* The one line a refused device gets. */
		dev_info(&pdev->dev,
			 "queue interface %#010x not supported (want major %u); not binding\n",
			 version, VGPU_QUEUE_MAJOR);
		err = -ENODEV;
		goto out_unmap;
	}
	if (vgpu_rd32(d, VGPU_Q_MAX_ENTRIES) < VGPU_SQ_ENTRIES) {
		dev_info(&pdev->dev, "QUEUE_MAX_ENTRIES %u below %u; not binding\n",
			 vgpu_rd32(d, VGPU_Q_MAX_ENTRIES), VGPU_SQ_ENTRIES);
		err = -ENODEV;
		goto out_unmap;
	}

	err = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (err)
		goto out_unmap;
	dma_set_max_seg_size(&pdev->dev, SZ_1G);
	pci_set_master(pdev);
	d->sq = dma_alloc_coherent(&pdev->dev, VGPU_SQ_ENTRIES * sizeof(*d->sq), &d->sq_dma,
				   GFP_KERNEL);
	d->cq = dma_alloc_coherent(&pdev->dev, VGPU_CQ_ENTRIES * sizeof(*d->cq), &d->cq_dma,
				   GFP_KERNEL);
	if (!d->sq || !d->cq) {
		err = -ENOMEM;
		goto out_rings;
	}

	err = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
	if (err < 0)
		goto out_rings;
	d->irq = pci_irq_vector(pdev, 0);
	err = request_irq(d->irq, vgpu_irq, 0, d->name, d);
	if (err)
		goto out_vectors;

	err = vgpu_queue_enable(d);
	if (err)
		goto out_irq;

	pci_set_drvdata(pdev, d);
	d->misc.minor = MISC_DYNAMIC_MINOR;
	d->misc.name = d->name;
	d->misc.fops = &vgpu_fops;
	d->misc.parent = &pdev->dev;
	d->misc.mode = 0660;
	err = misc_register(&d->misc);
	if (err)
		goto out_queue;

	dev_info(&pdev->dev,
		 "%s: queue %u.%u, %u+%u ring entries, %llu MiB device memory, irq %d\n", d->name,
		 version >> 16, version & 0xffff, VGPU_SQ_ENTRIES, VGPU_CQ_ENTRIES,
		 vgpu_rd64(d, VGPU_Q_MEM_TOTAL) >> 20, d->irq);
	return 0;

out_queue:
	mutex_lock(&d->submit_lock);
	vgpu_queue_stop(d);
	mutex_unlock(&d->submit_lock);
	pci_set_drvdata(pdev, NULL);
out_irq:
	free_irq(d->irq, d);
out_vectors:
	pci_free_irq_vectors(pdev);
out_rings:
	if (d->cq)
		dma_free_coherent(&pdev->dev, VGPU_CQ_ENTRIES * sizeof(*d->cq), d->cq, d->cq_dma);
	if (d->sq)
		dma_free_coherent(&pdev->dev, VGPU_SQ_ENTRIES * sizeof(*d->sq), d->sq, d->sq_dma);
	pci_clear_master(pdev);
out_unmap:
	pci_iounmap(pdev, d->bar);
out_put:
	ida_free(&vgpu_ida, d->minor_id);
	vgpu_dev_put(d);
out_regions:
	pci_release_regions(pdev);
out_disable:
	pci_disable_device(pdev);
	return err;
}

/*
 * Unbind (or module unload): no new opens; the queue is stopped, which frees
 * every allocation of every open file in the device; files still open keep
 * the structure (kref) and get ENODEV from then on.
 */
static void vgpu_remove(struct pci_dev *pdev)
{
	struct vgpu_dev *d = pci_get_drvdata(pdev);

	misc_deregister(&d->misc);
	/* The name is free again at once: a device bound next is /dev/vgpu0
	 * again even while files of this one are still open. */
	ida_free(&vgpu_ida, d->minor_id);
	mutex_lock(&d->submit_lock);
	vgpu_queue_stop(d);
	d->gone = true;
	mutex_unlock(&d->submit_lock);
	free_irq(d->irq, d);
	pci_free_irq_vectors(pdev);
	cancel_work_sync(&d->reap_work);
	dma_free_coherent(&pdev->dev, VGPU_CQ_ENTRIES * sizeof(*d->cq), d->cq, d->cq_dma);
	dma_free_coherent(&pdev->dev, VGPU_SQ_ENTRIES * sizeof(*d->sq), d->sq, d->sq_dma);
	pci_clear_master(pdev);
	pci_iounmap(pdev, d->bar);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	pci_set_drvdata(pdev, NULL);
	vgpu_dev_put(d);
}

static const struct pci_device_id vgpu_ids[] = {{PCI_DEVICE(0x1af4, 0x1111)}, {0}};
MODULE_DEVICE_TABLE(pci, vgpu_ids);

static struct pci_driver vgpu_driver = {
	.name = VGPU_DRV_NAME,
	.id_table = vgpu_ids,
	.probe = vgpu_probe,
	.remove = vgpu_remove,
};

static int __init vgpu_init(void)
{
	if (vgpu_timeout_ms == 0 || vgpu_timeout_ms > 600000)
		vgpu_timeout_ms = 30000;
	return pci_register_driver(&vgpu_driver);
}

static void __exit vgpu_exit(void)
{
	pci_unregister_driver(&vgpu_driver);
	ida_destroy(&vgpu_ida);
}

module_init(vgpu_init);
module_exit(vgpu_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Driver for the vgpu-ioreqd virtual device (1af4:1111) and its command queue");
MODULE_VERSION("1.0");
