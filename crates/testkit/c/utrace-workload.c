// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * Known-answer workloads for `memscope trace --pid`: each mode waits for a
 * line on standard input (so that the tracer can attach first), then
 * allocates COUNT objects at a known rate (one per millisecond) from a
 * known function, writes "done" and waits to be killed, holding whatever
 * it did not free.
 *
 *   leak COUNT      leak_kib(): COUNT x 1 KiB with malloc, never freed
 *   clean COUNT     clean_kib(): COUNT x 1 KiB, each freed at once
 *   mmap COUNT      leak_mmap(): COUNT x 64 KiB anonymous mmap, never unmapped
 *   realloc COUNT   grow_chain(): malloc(256) then realloc to 512, 768, 1024;
 *                   COUNT chains, the last block of each kept
 *   threads COUNT   thread_leak(): 4 threads, COUNT/4 x 1 KiB each, kept
 *   churn COUNT     COUNT malloc/free pairs as fast as it can (16 B to 2 KiB,
 *                   1024 live at a time), then "done NANOSECONDS": the
 *                   benchmark of scripts/bench-utrace
 *
 * Built twice by build.rs: with frame pointers and debuginfo, and without
 * either. Sibling calls are off in both, so that each function really
 * returns from malloc into its own body (a tail call would return to its
 * caller instead). Messages go through write(2): stdio would allocate.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_OBJECTS 1000000
#define MAX_CHURN 1000000000L

static void *kept[MAX_OBJECTS];
static long nkept;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *s)
{
	ssize_t r = write(1, s, strlen(s));
	(void)r;
}

static void keep(void *p)
{
	pthread_mutex_lock(&lock);
	if (nkept < MAX_OBJECTS)
		kept[nkept++] = p;
	pthread_mutex_unlock(&lock);
}

static void pace(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

__attribute__((noinline)) void leak_kib(void)
{
	void *p = malloc(1024); /* LEAK_LINE */

	memset(p, 1, 1024);
	keep(p);
}

/* Seen by the compiler as used: a malloc whose result is only freed may
 * be removed altogether (GCC does at -O1). */
static void *volatile last_seen;

__attribute__((noinline)) void clean_kib(void)
{
	void *p = malloc(1024);

	memset(p, 2, 1024);
	last_seen = p;
	free(p);
}

__attribute__((noinline)) void leak_mmap(void)
{
	void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED) {
		memset(p, 3, 65536);
		keep(p);
	}
}

__attribute__((noinline)) void grow_chain(void)
{
	char *p = malloc(256);
	int size;

	for (size = 512; size <= 1024; size += 256) {
		p = realloc(p, size);
		memset(p, 4, size);
	}
	keep(p);
}

/* The allocation-heavy loop the benchmark times: most objects live for a
 * while, as in a server; none is left at the end. */
__attribute__((noinline)) void churn(long count)
{
	static void *ring[1024];
	long i;

	for (i = 0; i < count; i++) {
		void *p = malloc(16 + (size_t)(i * 37 % 2033));

		((volatile char *)p)[0] = 1;
		free(ring[i % 1024]);
		ring[i % 1024] = p;
	}
	for (i = 0; i < 1024; i++) {
		free(ring[i]);
		ring[i] = NULL;
	}
}

static long per_thread;

__attribute__((noinline)) void thread_leak(void)
{
	void *p = malloc(1024);

	memset(p, 5, 1024);
	keep(p);
}

static void *thread_main(void *arg)
{
	long i;

	(void)arg;
	for (i = 0; i < per_thread; i++) {
		thread_leak();
		pace();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long count, i;
	char c;

	if (argc != 3) {
		say("usage: utrace-workload leak|clean|mmap|realloc|threads|churn COUNT\n");
		return 2;
	}
	count = atol(argv[2]);
	if (count < 0 || count > (strcmp(argv[1], "churn") ? MAX_OBJECTS : MAX_CHURN))
		return 2;
	say("ready\n");
	if (read(0, &c, 1) != 1)
		return 1;
	if (!strcmp(argv[1], "churn")) {
		struct timespec a, b;
		char msg[64];
		long ns;
		int n;

		clock_gettime(CLOCK_MONOTONIC, &a);
		churn(count);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
		n = snprintf(msg, sizeof(msg), "done %ld\n", ns);
		if (write(1, msg, n) != n)
			return 1;
		for (;;)
			pause();
	}
	if (!strcmp(argv[1], "threads")) {
		pthread_t t[4];

		per_thread = count / 4;
		for (i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, thread_main, NULL);
		for (i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	} else {
		for (i = 0; i < count; i++) {
			if (!strcmp(argv[1], "leak"))
				leak_kib();
			else if (!strcmp(argv[1], "clean"))
				clean_kib();
			else if (!strcmp(argv[1], "mmap"))
				leak_mmap();
			else if (!strcmp(argv[1], "realloc"))
				grow_chain();
			else
				return 2;
			pace();
		}
	}
	say("done\n");
	for (;;)
		pause();
}
