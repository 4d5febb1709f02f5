// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * memscope's kernel allocation tracer.
 *
 * Every allocation seen on the kmem tracepoints (include/trace/events/kmem.h)
 * is recorded in ms_allocs, keyed by what its free will name (the page frame
 * number for the page allocator, the object address for slab), with its size
 * and the hash of its kernel stack; the stack itself is stored once in
 * ms_stacks. A free deletes the record. At the end of the window, what is
 * left in ms_allocs was allocated during the window and is still held.
 *
 * Nothing is lost silently: every event that could not be recorded is
 * counted in ms_counters (table full, stack not walkable, stack table full,
 * sampled out), and user space reports the counts.
 *
 * Stacks are stored in a hash map keyed by a 64-bit hash of the frames
 * rather than in a BPF_MAP_TYPE_STACK_TRACE map: a stack-trace map refuses
 * (-EEXIST) every stack whose bucket is taken by another one
 * (kernel/bpf/stackmap.c, __bpf_get_stackid), so with thousands of distinct
 * allocation stacks a share of them would be lost; a hash map keyed by a
 * 64-bit hash loses none until it is full, and that is counted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define MAX_DEPTH 64
#define E2BIG 7
#define EEXIST 17

/* Keep in step with crates/trace/src/session.rs. */
enum kind { KIND_PAGE = 0, KIND_SLAB = 1 };

enum counter {
	C_PAGE_ALLOC = 0,
	C_PAGE_FREE,
	C_SLAB_ALLOC,
	C_SLAB_FREE,
	C_FAILED_ALLOC,
	C_TRACKED,
	C_FREES_MATCHED,
	C_SAMPLED_OUT,
	C_DROPPED_FULL,
	C_DROPPED_FULL_BYTES,
	C_DROPPED_OTHER,
	C_FREES_FAILED,
	C_STACK_UNWALKABLE,
	C_STACK_TABLE_FULL,
	C_SKIPPED_MOVABLE,
	C_NR,
};

/* Stack "hashes" below 2 are states, not stacks. */
#define STACK_UNWALKABLE 0
#define STACK_TABLE_FULL 1

struct alloc_key {
	u64 addr;
	u32 kind;
	u32 pad;
};

struct alloc_val {
	u64 bytes;
	u64 stack;
	u32 tgid; /* the process running when it was allocated */
	u32 pad;
};

struct stack_val {
	u32 nr;
	u32 pad;
	u64 ips[MAX_DEPTH];
};

/* Set by user space before loading. */
const volatile u32 sample_every = 1;
const volatile u64 page_size = 4096;
const volatile bool skip_movable = false;

/* include/linux/gfp_types.h: ___GFP_MOVABLE_BIT is 3 in every kernel since
 * the GFP bits were numbered (4.x); user pages and page cache are movable. */
#define GFP_MOVABLE 0x08UL

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct alloc_key);
	__type(value, struct alloc_val);
} ms_allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, struct stack_val);
} ms_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct stack_val);
} ms_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, C_NR);
	__type(key, u32);
	__type(value, u64);
} ms_counters SEC(".maps");

/* Per-CPU counters need no atomic add: tracepoint programs run with
 * preemption off, and the kernel runs no second tracing program on a CPU
 * while one runs (bpf_prog_active, kernel/trace/bpf_trace.c). */
static __always_inline void count(u32 idx, u64 v)
{
	u64 *c = bpf_map_lookup_elem(&ms_counters, &idx);

	if (c)
		*c += v;
}

/* The hash of the current kernel stack, after storing the stack in
 * ms_stacks if it is new; or one of the STACK_* states. */
static __always_inline u64 stack_hash(void *ctx)
{
	u32 zero = 0;
	struct stack_val *st = bpf_map_lookup_elem(&ms_scratch, &zero);
	long n;
	u64 h;
	u32 nr;
	int i;

	if (!st)
		return STACK_UNWALKABLE;
	n = bpf_get_stack(ctx, st->ips, sizeof(st->ips), 0);
	if (n <= 0) {
		count(C_STACK_UNWALKABLE, 1);
		return STACK_UNWALKABLE;
	}
	nr = n / sizeof(u64);
	st->nr = nr;
	h = 0xcbf29ce484222325ULL ^ nr;
	for (i = 0; i < MAX_DEPTH; i++) {
		if (i >= nr)
			break;
		h ^= st->ips[i];
		h *= 0x9e3779b97f4a7c15ULL;
		h ^= h >> 31;
	}
	if (h <= STACK_TABLE_FULL)
		h += 2;
	if (!bpf_map_lookup_elem(&ms_stacks, &h)) {
		long err = bpf_map_update_elem(&ms_stacks, &h, st, BPF_NOEXIST);

		if (err && err != -EEXIST) {
			count(C_STACK_TABLE_FULL, 1);
			return STACK_TABLE_FULL;
		}
	}
	return h;
}

static __always_inline void record(void *ctx, u64 addr, u32 kind, u64 bytes)
{
	struct alloc_key k = {};
	struct alloc_val v = {};
	long err;

	if (sample_every > 1 && bpf_get_prandom_u32() % sample_every) {
		count(C_SAMPLED_OUT, 1);
		return;
	}
	k.addr = addr;
	k.kind = kind;
	v.bytes = bytes;
	v.stack = stack_hash(ctx);
	v.tgid = bpf_get_current_pid_tgid() >> 32;
	err = bpf_map_update_elem(&ms_allocs, &k, &v, BPF_ANY);
	if (!err) {
		count(C_TRACKED, 1);
	} else if (err == -E2BIG) {
		count(C_DROPPED_FULL, 1);
		count(C_DROPPED_FULL_BYTES, bytes);
	} else {
		count(C_DROPPED_OTHER, 1);
	}
}

static __always_inline void forget(u64 addr, u32 kind)
{
	struct alloc_key k = {};
	long err;

	k.addr = addr;
	k.kind = kind;
	err = bpf_map_delete_elem(&ms_allocs, &k);
	if (!err)
		count(C_FREES_MATCHED, 1);
	else if (err != -2 /* -ENOENT: allocated before the window */)
		count(C_FREES_FAILED, 1);
}

static __always_inline int slab_alloc(void *ctx, u64 ptr, u64 bytes)
{
	if (!ptr) {
		count(C_FAILED_ALLOC, 1);
		return 0;
	}
	count(C_SLAB_ALLOC, 1);
	record(ctx, ptr, KIND_SLAB, bytes);
	return 0;
}

static __always_inline int slab_free(u64 ptr)
{
	/* kfree(NULL) and kfree of ZERO_SIZE_PTR (16) are no-ops. */
	if (ptr <= 16)
		return 0;
	count(C_SLAB_FREE, 1);
	forget(ptr, KIND_SLAB);
	return 0;
}

SEC("tracepoint/kmem/mm_page_alloc")
int memscope_pg_al(struct trace_event_raw_mm_page_alloc *ctx)
{
	u64 pfn = ctx->pfn;
	u32 order = ctx->order;

	/* mm/page_alloc.c: pfn is -1UL when the allocation failed. */
	if (pfn == (u64)-1) {
		count(C_FAILED_ALLOC, 1);
		return 0;
	}
	count(C_PAGE_ALLOC, 1);
	if (skip_movable && (ctx->gfp_flags & GFP_MOVABLE)) {
		count(C_SKIPPED_MOVABLE, 1);
		return 0;
	}
	record(ctx, pfn, KIND_PAGE, page_size << (order & 31));
	return 0;
}

SEC("tracepoint/kmem/mm_page_free")
int memscope_pg_fr(struct trace_event_raw_mm_page_free *ctx)
{
	count(C_PAGE_FREE, 1);
	forget(ctx->pfn, KIND_PAGE);
	return 0;
}

SEC("tracepoint/kmem/mm_page_free_batched")
int memscope_pg_frb(struct trace_event_raw_mm_page_free_batched *ctx)
{
	count(C_PAGE_FREE, 1);
	forget(ctx->pfn, KIND_PAGE);
	return 0;
}

SEC("tracepoint/kmem/kmalloc")
int memscope_km_al(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_kmalloc)) {
		struct trace_event_raw_kmalloc *a = ctx;

		return slab_alloc(ctx, (u64)a->ptr, a->bytes_alloc);
	} else {
		struct trace_event_raw_kmem_alloc *a = ctx;

		return slab_alloc(ctx, (u64)a->ptr, a->bytes_alloc);
	}
}

/* Kernels before 6.1 only. */
SEC("tracepoint/kmem/kmalloc_node")
int memscope_kmn_al(struct trace_event_raw_kmem_alloc_node *ctx)
{
	return slab_alloc(ctx, (u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tracepoint/kmem/kmem_cache_alloc")
int memscope_kc_al(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_kmem_cache_alloc)) {
		struct trace_event_raw_kmem_cache_alloc *a = ctx;

		return slab_alloc(ctx, (u64)a->ptr, a->bytes_alloc);
	} else {
		struct trace_event_raw_kmem_alloc *a = ctx;

		return slab_alloc(ctx, (u64)a->ptr, a->bytes_alloc);
	}
}

/* Kernels before 6.1 only. */
SEC("tracepoint/kmem/kmem_cache_alloc_node")
int memscope_kcn_al(struct trace_event_raw_kmem_alloc_node *ctx)
{
	return slab_alloc(ctx, (u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tracepoint/kmem/kfree")
int memscope_km_fr(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_kfree)) {
		struct trace_event_raw_kfree *a = ctx;

		return slab_free((u64)a->ptr);
	} else {
		struct trace_event_raw_kmem_free *a = ctx;

		return slab_free((u64)a->ptr);
	}
}

SEC("tracepoint/kmem/kmem_cache_free")
int memscope_kc_fr(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_kmem_cache_free)) {
		struct trace_event_raw_kmem_cache_free *a = ctx;

		return slab_free((u64)a->ptr);
	} else {
		struct trace_event_raw_kmem_free *a = ctx;

		return slab_free((u64)a->ptr);
	}
}

/* GPL-compatible: bpf_get_stack is available to GPL programs only. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
