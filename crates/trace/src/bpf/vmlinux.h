/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The few kernel types memscope's tracer needs, taken from the BTF of a
 * 6.18 kernel (`bpftool btf dump file /sys/kernel/btf/vmlinux format c`)
 * and trimmed. Every struct read by the programs carries
 * preserve_access_index, so libbpf relocates each field access against the
 * running kernel's BTF at load time (CO-RE): offsets may differ between
 * kernels, names may not. The tracepoint records mirror
 * include/trace/events/kmem.h (TP_STRUCT__entry), one struct per event class.
 */
#ifndef __MEMSCOPE_VMLINUX_H__
#define __MEMSCOPE_VMLINUX_H__
/* bpf_tracing.h names the kernel's pt_regs fields (di, not rdi) when it
 * sees a vmlinux.h. */
#define __VMLINUX_H__

typedef signed char __s8;
typedef unsigned char __u8;
typedef short int __s16;
typedef short unsigned int __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long int __s64;
typedef long long unsigned int __u64;
typedef __s8 s8;
typedef __u8 u8;
typedef __s16 s16;
typedef __u16 u16;
typedef __s32 s32;
typedef __u32 u32;
typedef __s64 s64;
typedef __u64 u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };
typedef long unsigned int size_t;

/* uapi/linux/bpf.h: ABI values, stable across kernels. */
enum bpf_map_type {
	BPF_MAP_TYPE_UNSPEC = 0,
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
	BPF_F_LOCK = 4,
};

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)

struct trace_entry {
	short unsigned int type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

/* kmem:mm_page_alloc */
struct trace_event_raw_mm_page_alloc {
	struct trace_entry ent;
	long unsigned int pfn;
	unsigned int order;
	long unsigned int gfp_flags;
	int migratetype;
	char __data[0];
};

/* kmem:mm_page_free */
struct trace_event_raw_mm_page_free {
	struct trace_entry ent;
	long unsigned int pfn;
	unsigned int order;
	char __data[0];
};

/* kmem:mm_page_free_batched (always order 0) */
struct trace_event_raw_mm_page_free_batched {
	struct trace_entry ent;
	long unsigned int pfn;
	char __data[0];
};

/* kmem:kmalloc (6.1+: its own class) */
struct trace_event_raw_kmalloc {
	struct trace_entry ent;
	long unsigned int call_site;
	const void *ptr;
	size_t bytes_req;
	size_t bytes_alloc;
	long unsigned int gfp_flags;
	int node;
	char __data[0];
};

/* kmem:kmem_cache_alloc (6.1+: its own class, with the cache name) */
struct trace_event_raw_kmem_cache_alloc {
	struct trace_entry ent;
	long unsigned int call_site;
	const void *ptr;
	u32 __data_loc_name;
	size_t bytes_req;
	size_t bytes_alloc;
	long unsigned int gfp_flags;
	int node;
	bool accounted;
	char __data[0];
};

/* kmem:kfree (6.1+) */
struct trace_event_raw_kfree {
	struct trace_entry ent;
	long unsigned int call_site;
	const void *ptr;
	char __data[0];
};

/* kmem:kmem_cache_free (6.1+) */
struct trace_event_raw_kmem_cache_free {
	struct trace_entry ent;
	long unsigned int call_site;
	const void *ptr;
	u32 __data_loc_name;
	char __data[0];
};

/* Before 6.1: kmalloc and kmem_cache_alloc shared the kmem_alloc class,
 * kmalloc_node and kmem_cache_alloc_node the kmem_alloc_node class, kfree
 * and kmem_cache_free the kmem_free class. */
struct trace_event_raw_kmem_alloc {
	struct trace_entry ent;
	long unsigned int call_site;
	const void *ptr;
	size_t bytes_req;
	size_t bytes_alloc;
	long unsigned int gfp_flags;
	char __data[0];
};

struct trace_event_raw_kmem_alloc_node {
	struct trace_entry ent;
	long unsigned int call_site;
	const void *ptr;
	size_t bytes_req;
	size_t bytes_alloc;
	long unsigned int gfp_flags;
	int node;
	char __data[0];
};

struct trace_event_raw_kmem_free {
	struct trace_entry ent;
	long unsigned int call_site;
	const void *ptr;
	char __data[0];
};

#pragma clang attribute pop


/* The registers of a probed user function (uprobes), for bpf_tracing.h's
 * PT_REGS_PARM and PT_REGS_RC: arch/x86/include/asm/ptrace.h and
 * arch/arm64/include/uapi/asm/ptrace.h. */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	long unsigned int r15;
	long unsigned int r14;
	long unsigned int r13;
	long unsigned int r12;
	long unsigned int bp;
	long unsigned int bx;
	long unsigned int r11;
	long unsigned int r10;
	long unsigned int r9;
	long unsigned int r8;
	long unsigned int ax;
	long unsigned int cx;
	long unsigned int dx;
	long unsigned int si;
	long unsigned int di;
	long unsigned int orig_ax;
	long unsigned int ip;
	long unsigned int cs;
	long unsigned int flags;
	long unsigned int sp;
	long unsigned int ss;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
struct pt_regs {
	union {
		struct user_pt_regs user_regs;
		struct {
			__u64 regs[31];
			__u64 sp;
			__u64 pc;
			__u64 pstate;
		};
	};
	__u64 orig_x0;
} __attribute__((preserve_access_index));
#endif

#endif /* __MEMSCOPE_VMLINUX_H__ */
