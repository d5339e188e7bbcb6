/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's kselftest_harness.h with the project's per-test timeout.
 *
 * The harness kills a test after TEST_TIMEOUT_DEFAULT (30) seconds. That is
 * a hang detector, not a speed requirement, and 30 s is not enough for work
 * that is instant on hardware but runs under QEMU TCG with KASAN and lockdep
 * on a machine that also runs other guests (1000 eclones took longer than
 * that). Every test gets CPTRST_TEST_TIMEOUT seconds instead; the TEST()
 * macros read TEST_TIMEOUT_DEFAULT where they are used, after this header.
 * run-all bounds each suite as a whole.
 */
#ifndef CPTRST_HARNESS_H
#define CPTRST_HARNESS_H

#include "kselftest_harness.h"

#define CPTRST_TEST_TIMEOUT 300

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT CPTRST_TEST_TIMEOUT

#endif /* CPTRST_HARNESS_H */
