// SPDX-License-Identifier: GPL-2.0
/*
 * bench-eclone: the cost of one eclone (ioctl + clone3 with set_tid)
 * against a plain fork, in the same guest. Each iteration creates a child
 * that exits at once and is reaped. Runs rounds of fork and eclone
 * alternately and prints the median per-operation time of each and the
 * ratio.  Usage: bench-eclone [ITERATIONS] [ROUNDS]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cptrst_eclone.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 500, rounds = argc > 2 ? atoi(argv[2]) : 5;
	double tf[64], te[64];
	pid_t next = 10000;
	int r, i;

	if (rounds > 64)
		rounds = 64;
	for (r = 0; r < rounds; r++) {
		double t0 = now();

		for (i = 0; i < iters; i++) {
			pid_t p = fork();

			if (p == 0)
				_exit(0);
			waitpid(p, NULL, 0);
		}
		tf[r] = (now() - t0) / iters;
		t0 = now();
		for (i = 0; i < iters; i++) {
			struct cptrst_clone_args ca = { .nr_pids = 1 };
			pid_t pids[1], p;

			do {
				pids[0] = next++;
				if (next > 30000)
					next = 10000;
				p = eclone(SIGCHLD, &ca, sizeof(ca), pids);
			} while (p < 0);
			if (p == 0)
				_exit(0);
			waitpid(p, NULL, 0);
		}
		te[r] = (now() - t0) / iters;
	}
	qsort(tf, rounds, sizeof(double), cmp);
	qsort(te, rounds, sizeof(double), cmp);
	printf("fork+exit+wait:   median %.1f us (min %.1f, max %.1f) over %d rounds of %d\n",
	       tf[rounds / 2] * 1e6, tf[0] * 1e6, tf[rounds - 1] * 1e6, rounds, iters);
	printf("eclone+exit+wait: median %.1f us (min %.1f, max %.1f)\n",
	       te[rounds / 2] * 1e6, te[0] * 1e6, te[rounds - 1] * 1e6);
	printf("ratio eclone/fork: %.2f\n", te[rounds / 2] / tf[rounds / 2]);
	return 0;
}
