// SPDX-License-Identifier: GPL-2.0
/*
 * glibc-check: a glibc program for the restart tests (kselftest-restart),
 * built twice by tests/progs/Makefile: glibc-dyn (dynamically linked: the
 * loader and libc.so are mapped from files) and glibc-static.
 *
 * It sets up a __thread variable and array, a pthread key, heap data
 * (small chunks from brk, one large mmap'd chunk), then prints
 *     {"pid": P, "ready": A, "go": B, "arg": C}
 * sets the u32 at A to 0x600df00d and loops calling clock_gettime
 * (CLOCK_MONOTONIC, through the vDSO), each reading no earlier than the one
 * before, until the test sets the byte at B (through /proc/PID/mem, after
 * the restart). Then it checks its pid, the TLS, the key, the heap, that
 * malloc/free still work, and that the vDSO clock still runs: not behind
 * the last reading before the checkpoint, close to the clock_gettime
 * system call, and advancing across a 20 ms sleep. Exit 0 if all holds,
 * else 1 with the reasons on stderr.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define READY_MAGIC 0x600df00du
#define NCHUNKS 512
#define BIG (8u << 20)

static volatile uint32_t ready;
static volatile uint8_t go;
static volatile uint64_t arg;

static __thread uint64_t tls_value;
static __thread char tls_text[64];

static int failures;

#define FAIL(...)                                                         \
	do {                                                              \
		fprintf(stderr, "glibc-check: " __VA_ARGS__);             \
		fputc('\n', stderr);                                      \
		failures++;                                               \
	} while (0)

static uint8_t chunk_byte(unsigned int i, size_t off)
{
	return (uint8_t)(i * 37 + off * 11 + (off >> 7));
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

int main(void)
{
	pid_t pid = getpid();
	static unsigned char *chunks[NCHUNKS];
	static size_t sizes[NCHUNKS];
	unsigned char *big;
	pthread_key_t key;
	static char key_value[] = "pthread key value";
	struct timespec last, now, sys;

	tls_value = 0x7715000000000000ull ^ (uint64_t)pid;
	snprintf(tls_text, sizeof(tls_text), "thread-local text of %d", (int)pid);
	if (pthread_key_create(&key, NULL) || pthread_setspecific(key, key_value)) {
		perror("pthread key");
		return 2;
	}
	for (unsigned int i = 0; i < NCHUNKS; i++) {
		sizes[i] = 16 + (i * 97) % 4000;
		chunks[i] = malloc(sizes[i]);
		if (!chunks[i]) {
			perror("malloc");
			return 2;
		}
		for (size_t o = 0; o < sizes[i]; o++)
			chunks[i][o] = chunk_byte(i, o);
	}
	/* Free every third one: the allocator's free lists are state too. */
	for (unsigned int i = 0; i < NCHUNKS; i += 3) {
		free(chunks[i]);
		chunks[i] = NULL;
	}
	big = malloc(BIG);
	if (!big) {
		perror("malloc");
		return 2;
	}
	for (size_t o = 0; o < BIG; o++)
		big[o] = chunk_byte(NCHUNKS, o);

	clock_gettime(CLOCK_MONOTONIC, &last);
	printf("{\"pid\": %d, \"ready\": %lu, \"go\": %lu, \"arg\": %lu}\n", (int)pid,
	       (unsigned long)&ready, (unsigned long)&go, (unsigned long)&arg);
	fflush(stdout);
	ready = READY_MAGIC;

	while (!go) {
		if (clock_gettime(CLOCK_MONOTONIC, &now)) {
			FAIL("clock_gettime failed in the loop");
			return 1;
		}
		if (ns(&now) < ns(&last)) {
			FAIL("CLOCK_MONOTONIC went back from %lld to %lld ns", (long long)ns(&last),
			     (long long)ns(&now));
			return 1;
		}
		last = now;
	}

	if (getpid() != pid)
		FAIL("getpid() %d, was %d", (int)getpid(), (int)pid);
	if (tls_value != (0x7715000000000000ull ^ (uint64_t)pid))
		FAIL("TLS value %#llx, want %#llx", (unsigned long long)tls_value,
		     (unsigned long long)(0x7715000000000000ull ^ (uint64_t)pid));
	{
		char want[64];

		snprintf(want, sizeof(want), "thread-local text of %d", (int)pid);
		if (strcmp(tls_text, want))
			FAIL("TLS text '%.63s', want '%s'", tls_text, want);
	}
	if (pthread_getspecific(key) != key_value)
		FAIL("pthread key value %p, want %p", pthread_getspecific(key), (void *)key_value);
	for (unsigned int i = 0; i < NCHUNKS; i++) {
		if (!chunks[i])
			continue;
		for (size_t o = 0; o < sizes[i]; o++) {
			if (chunks[i][o] != chunk_byte(i, o)) {
				FAIL("heap chunk %u byte %zu: %#x, want %#x", i, o, chunks[i][o],
				     chunk_byte(i, o));
				break;
			}
		}
	}
	for (size_t o = 0; o < BIG; o++) {
		if (big[o] != chunk_byte(NCHUNKS, o)) {
			FAIL("large chunk byte %zu: %#x, want %#x", o, big[o], chunk_byte(NCHUNKS, o));
			break;
		}
	}
	/* The allocator after the restart: free old chunks, get new ones. */
	for (unsigned int i = 1; i < NCHUNKS; i += 3)
		free(chunks[i]);
	for (unsigned int i = 0; i < 64; i++) {
		unsigned char *p = malloc(100 + i * 50);

		if (!p) {
			FAIL("malloc after the restart failed");
			break;
		}
		memset(p, 0x5a, 100 + i * 50);
		free(p);
	}
	free(big);
	big = malloc(BIG);
	if (!big)
		FAIL("large malloc after the restart failed");
	else
		memset(big, 0xa5, BIG);

	if (clock_gettime(CLOCK_MONOTONIC, &now)) {
		FAIL("clock_gettime failed after the restart");
	} else {
		if (ns(&now) < ns(&last))
			FAIL("CLOCK_MONOTONIC %lld ns after the restart, behind %lld ns before it",
			     (long long)ns(&now), (long long)ns(&last));
		if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &sys))
			FAIL("the clock_gettime system call failed");
		else if (ns(&sys) - ns(&now) > 1000000000LL || ns(&now) - ns(&sys) > 1000000000LL)
			FAIL("vDSO clock %lld ns, system call clock %lld ns: more than 1 s apart",
			     (long long)ns(&now), (long long)ns(&sys));
		struct timespec nap = { 0, 20000000 }, later;

		nanosleep(&nap, NULL);
		clock_gettime(CLOCK_MONOTONIC, &later);
		if (ns(&later) - ns(&now) < 20000000)
			FAIL("vDSO clock advanced %lld ns across a 20 ms sleep: not running",
			     (long long)(ns(&later) - ns(&now)));
	}
	return failures ? 1 : 0;
}
