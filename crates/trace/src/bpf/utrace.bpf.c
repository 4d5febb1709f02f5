// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * memscope's user-space allocation tracer (`memscope trace --pid`).
 *
 * uprobes on the allocator's entry points (malloc, calloc, realloc, …) note
 * the requested size per thread; the matching uretprobe reads the returned
 * pointer and records it in mu_allocs with the size and the hash of the user
 * stack, taken at the return: there the instruction pointer is the return
 * address inside the caller, so the function that called malloc is the first
 * frame whatever the allocator was compiled with (bcc's memleak does the
 * same). free() and munmap() delete the record. At the end of the window,
 * what is left was allocated during the window and is still held.
 *
 * mmap/munmap are probed in the C library too (not at the syscall
 * tracepoints): at the return of the mmap wrapper the first frame is its
 * caller, and an mmap made by the allocator itself (glibc serves large
 * requests with mmap) is recognised by the allocator call still pending on
 * the thread, and not counted twice.
 *
 * Every event that could not be recorded is counted in mu_counters.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_DEPTH 64
#define E2BIG 7
#define EEXIST 17
#define ENOENT 2
#define BPF_F_USER_STACK (1ULL << 8)

/* Keep in step with crates/trace/src/user.rs. */
enum kind { KIND_HEAP = 0, KIND_MMAP = 1 };

enum counter {
	C_ALLOC_CALLS = 0,
	C_FREE_CALLS,
	C_MMAP_CALLS,
	C_MUNMAP_CALLS,
	C_FAILED_ALLOC,
	C_TRACKED,
	C_FREES_MATCHED,
	C_SAMPLED_OUT,
	C_TOO_SMALL,
	C_DROPPED_FULL,
	C_DROPPED_FULL_BYTES,
	C_DROPPED_OTHER,
	C_STACK_UNWALKABLE,
	C_STACK_TABLE_FULL,
	C_NESTED_MMAP,
	C_RETURN_UNMATCHED,
	C_NR,
};

#define STACK_UNWALKABLE 0
#define STACK_TABLE_FULL 1

struct pending {
	u64 size;
	u64 memptr; /* posix_memalign: where the pointer is stored */
	u32 kind;
	u32 skip; /* sampled out or under min_size */
};

struct ukey {
	u64 addr;
	u32 tgid;
	u32 kind;
};

struct uval {
	u64 bytes;
	u64 stack;
	u32 tid;
	u32 pad;
};

struct stack_val {
	u32 nr;
	u32 pad;
	u64 ips[MAX_DEPTH];
};

/* Set by user space before loading. */
const volatile u32 sample_every = 1;
const volatile u64 min_size = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, struct pending);
} mu_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct ukey);
	__type(value, struct uval);
} mu_allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, struct stack_val);
} mu_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct stack_val);
} mu_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, C_NR);
	__type(key, u32);
	__type(value, u64);
} mu_counters SEC(".maps");

/* uprobe programs run with migration disabled and one at a time per CPU
 * (bpf_prog_active), so a per-CPU counter needs no atomic add. */
static __always_inline void count(u32 idx, u64 v)
{
	u64 *c = bpf_map_lookup_elem(&mu_counters, &idx);

	if (c)
		*c += v;
}

static __always_inline u64 stack_hash(void *ctx)
{
	u32 zero = 0;
	struct stack_val *st = bpf_map_lookup_elem(&mu_scratch, &zero);
	long n;
	u64 h;
	u32 nr;
	int i;

	if (!st)
		return STACK_UNWALKABLE;
	n = bpf_get_stack(ctx, st->ips, sizeof(st->ips), BPF_F_USER_STACK);
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
	if (!bpf_map_lookup_elem(&mu_stacks, &h)) {
		long err = bpf_map_update_elem(&mu_stacks, &h, st, BPF_NOEXIST);

		if (err && err != -EEXIST) {
			count(C_STACK_TABLE_FULL, 1);
			return STACK_TABLE_FULL;
		}
	}
	return h;
}

/* An allocator call begins on this thread. */
static __always_inline int enter(u64 size, u64 memptr, u32 kind)
{
	u64 id = bpf_get_current_pid_tgid();
	struct pending p = {};

	p.size = size;
	p.memptr = memptr;
	p.kind = kind;
	if (size < min_size) {
		count(C_TOO_SMALL, 1);
		p.skip = 1;
	} else if (sample_every > 1 && bpf_get_prandom_u32() % sample_every) {
		count(C_SAMPLED_OUT, 1);
		p.skip = 1;
	}
	bpf_map_update_elem(&mu_pending, &id, &p, BPF_ANY);
	return 0;
}

static __always_inline void forget(u64 addr, u32 kind)
{
	struct ukey k = {};
	long err;

	k.addr = addr;
	k.tgid = bpf_get_current_pid_tgid() >> 32;
	k.kind = kind;
	err = bpf_map_delete_elem(&mu_allocs, &k);
	if (!err)
		count(C_FREES_MATCHED, 1);
}

/* The allocator call returns `addr` (0: it failed). */
static __always_inline int leave(void *ctx, u64 addr, u32 kind)
{
	u64 id = bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&mu_pending, &id);
	struct ukey k = {};
	struct uval v = {};
	u64 bytes;
	long err;

	if (!p) {
		count(C_RETURN_UNMATCHED, 1);
		return 0;
	}
	if (p->kind != kind)
		return 0; /* an mmap inside malloc: its caller's pending call */
	bytes = p->size;
	if (p->skip) {
		bpf_map_delete_elem(&mu_pending, &id);
		return 0;
	}
	bpf_map_delete_elem(&mu_pending, &id);
	if (!addr || (kind == KIND_MMAP && addr == (u64)-1)) {
		count(C_FAILED_ALLOC, 1);
		return 0;
	}
	k.addr = addr;
	k.tgid = id >> 32;
	k.kind = kind;
	v.bytes = bytes;
	v.stack = stack_hash(ctx);
	v.tid = (u32)id;
	err = bpf_map_update_elem(&mu_allocs, &k, &v, BPF_ANY);
	if (!err) {
		count(C_TRACKED, 1);
	} else if (err == -E2BIG) {
		count(C_DROPPED_FULL, 1);
		count(C_DROPPED_FULL_BYTES, bytes);
	} else {
		count(C_DROPPED_OTHER, 1);
	}
	return 0;
}

SEC("uprobe")
int memscope_u_malloc(struct pt_regs *ctx)
{
	count(C_ALLOC_CALLS, 1);
	return enter(PT_REGS_PARM1(ctx), 0, KIND_HEAP);
}

SEC("uprobe")
int memscope_u_calloc(struct pt_regs *ctx)
{
	count(C_ALLOC_CALLS, 1);
	return enter((u64)PT_REGS_PARM1(ctx) * (u64)PT_REGS_PARM2(ctx), 0, KIND_HEAP);
}

/* realloc(ptr, size): the old block is gone whatever happens next (a
 * failed realloc keeps it, and is counted as a failed allocation). */
SEC("uprobe")
int memscope_u_realloc(struct pt_regs *ctx)
{
	u64 ptr = PT_REGS_PARM1(ctx);

	count(C_ALLOC_CALLS, 1);
	if (ptr)
		forget(ptr, KIND_HEAP);
	return enter(PT_REGS_PARM2(ctx), 0, KIND_HEAP);
}

SEC("uprobe")
int memscope_u_reallocarray(struct pt_regs *ctx)
{
	u64 ptr = PT_REGS_PARM1(ctx);

	count(C_ALLOC_CALLS, 1);
	if (ptr)
		forget(ptr, KIND_HEAP);
	return enter((u64)PT_REGS_PARM2(ctx) * (u64)PT_REGS_PARM3(ctx), 0, KIND_HEAP);
}

/* memalign(align, size), aligned_alloc(align, size). */
SEC("uprobe")
int memscope_u_memalign(struct pt_regs *ctx)
{
	count(C_ALLOC_CALLS, 1);
	return enter(PT_REGS_PARM2(ctx), 0, KIND_HEAP);
}

/* valloc(size), pvalloc(size). */
SEC("uprobe")
int memscope_u_valloc(struct pt_regs *ctx)
{
	count(C_ALLOC_CALLS, 1);
	return enter(PT_REGS_PARM1(ctx), 0, KIND_HEAP);
}

/* posix_memalign(void **memptr, size_t align, size_t size): returns 0 and
 * stores the pointer in *memptr. */
SEC("uprobe")
int memscope_u_posix_memalign(struct pt_regs *ctx)
{
	count(C_ALLOC_CALLS, 1);
	return enter(PT_REGS_PARM3(ctx), PT_REGS_PARM1(ctx), KIND_HEAP);
}

SEC("uretprobe")
int memscope_u_alloc_ret(struct pt_regs *ctx)
{
	return leave(ctx, PT_REGS_RC(ctx), KIND_HEAP);
}

SEC("uretprobe")
int memscope_u_posix_memalign_ret(struct pt_regs *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&mu_pending, &id);
	u64 addr = 0;

	if (p && PT_REGS_RC(ctx) == 0 && p->memptr)
		bpf_probe_read_user(&addr, sizeof(addr), (void *)p->memptr);
	return leave(ctx, addr, KIND_HEAP);
}

SEC("uprobe")
int memscope_u_free(struct pt_regs *ctx)
{
	u64 ptr = PT_REGS_PARM1(ctx);

	count(C_FREE_CALLS, 1);
	if (ptr)
		forget(ptr, KIND_HEAP);
	return 0;
}

/* mmap(addr, length, prot, flags, fd, offset) */
SEC("uprobe")
int memscope_u_mmap(struct pt_regs *ctx)
{
	u64 id = bpf_get_current_pid_tgid();

	count(C_MMAP_CALLS, 1);
	if (bpf_map_lookup_elem(&mu_pending, &id)) {
		/* Inside malloc & co: that call accounts for it. */
		count(C_NESTED_MMAP, 1);
		return 0;
	}
	return enter(PT_REGS_PARM2(ctx), 0, KIND_MMAP);
}

SEC("uretprobe")
int memscope_u_mmap_ret(struct pt_regs *ctx)
{
	return leave(ctx, PT_REGS_RC(ctx), KIND_MMAP);
}

/* munmap(addr, length): a region is forgotten when unmapped from its start. */
SEC("uprobe")
int memscope_u_munmap(struct pt_regs *ctx)
{
	count(C_MUNMAP_CALLS, 1);
	forget(PT_REGS_PARM1(ctx), KIND_MMAP);
	return 0;
}

/* GPL-compatible: bpf_get_stack and bpf_probe_read_user need it. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
