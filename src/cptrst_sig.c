// SPDX-License-Identifier: GPL-2.0
/*
 * cptrst C shim for the checkpoint of signals, timers, limits and
 * credentials: what Rust (src/signal.rs, timer.rs, rlimit.rs, cred.rs)
 * cannot reach through 6.12's bindings: the siglock (lock_task_sighand()
 * is an inline over an unexported function), the pending queues, the
 * sigactions, the interval and POSIX timers, the rlimits and the
 * credentials of a stopped task. Each function copies facts into the
 * caller's buffers; every decision (what is refused, what the image
 * says) is made in Rust (src/dump_signals.rs, src/dump_creds.rs).
 *
 * Read only: nothing is dequeued, no timer is forwarded, rearmed or has
 * its overrun count touched, and nothing sleeps or allocates under a
 * spinlock (the buffers are the caller's; a queue that outgrew them is
 * counted, and the caller retries with bigger ones).
 * Declarations: include/cptrst_abi.h ("signals, timers, limits, creds").
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/posix-timers.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seccomp.h>
#include <linux/signal.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>

#include "../include/cptrst_abi.h"

/* The user siginfo_t starts with the whole kernel_siginfo. */
static_assert(sizeof(kernel_siginfo_t) == 48);
static_assert(sizeof(kernel_siginfo_t) <= CPTRST_SIGINFO_LEN);
static_assert(sizeof(siginfo_t) == CPTRST_SIGINFO_LEN);
static_assert(sizeof(sigset_t) * 8 == CPTRST_NSIG);
static_assert(RLIM_NLIMITS == CPTRST_NRLIMIT);
static_assert(sizeof(kernel_cap_t) == 8);
static_assert(CPUCLOCK_PROF == 0 && CPUCLOCK_VIRT == 1);

/*
 * lock_task_sighand(): __lock_task_sighand() is not exported. The same
 * loop: sighand_struct is SLAB_TYPESAFE_BY_RCU, so a sighand read under
 * RCU may be locked and then checked to still be @t's. NULL once @t has
 * released its signal state (exiting).
 */
static struct sighand_struct *sig_lock(struct task_struct *t, unsigned long *flags)
{
	struct sighand_struct *sh;

	rcu_read_lock();
	for (;;) {
		sh = rcu_dereference(t->sighand);
		if (!sh)
			break;
		spin_lock_irqsave(&sh->siglock, *flags);
		if (likely(sh == rcu_access_pointer(t->sighand)))
			break;
		spin_unlock_irqrestore(&sh->siglock, *flags);
	}
	rcu_read_unlock();
	return sh;
}

int cptrst_task_creds_ext(struct task_struct *t, struct cptrst_creds_ext *out, __u32 *groups,
			  unsigned int max)
{
	struct user_namespace *uns = current_user_ns();
	const struct cred *c = get_task_cred(t);
	const struct group_info *gi = c->group_info;
	unsigned int i, n;

	memset(out, 0, sizeof(*out));
	out->cap_inheritable = c->cap_inheritable.val;
	out->cap_permitted = c->cap_permitted.val;
	out->cap_effective = c->cap_effective.val;
	out->cap_bset = c->cap_bset.val;
	out->cap_ambient = c->cap_ambient.val;
	out->securebits = c->securebits;
	out->no_new_privs = task_no_new_privs(t);
	out->foreign_ns = c->user_ns != uns;
	n = gi ? gi->ngroups : 0;
	out->ngroups = n;
	for (i = 0; i < n && i < max; i++)
		groups[i] = from_kgid_munged(uns, gi->gid[i]);
	put_cred(c);
	return n;
}

int cptrst_task_sig_facts(struct task_struct *t, struct cptrst_sig_task *out)
{
	memset(out, 0, sizeof(*out));
	/* Set by the task itself, which is stopped. */
	out->sas_ss_sp = t->sas_ss_sp;
	out->sas_ss_size = t->sas_ss_size;
	out->sas_ss_flags = t->sas_ss_flags;
	out->pdeath_signal = READ_ONCE(t->pdeath_signal);
	out->timer_slack_ns = READ_ONCE(t->timer_slack_ns);
	out->default_timer_slack_ns = READ_ONCE(t->default_timer_slack_ns);
#ifdef CONFIG_SECCOMP
	out->seccomp_mode = READ_ONCE(t->seccomp.mode);
#endif
#ifdef CONFIG_IO_URING
	out->io_uring = !!READ_ONCE(t->io_uring);
#endif
	return 0;
}

/*
 * Copies @t's private (or, with @shared, its thread group's) pending
 * queue: the signal set and up to @max entries, each a zeroed
 * CPTRST_SIGINFO_LEN-byte user siginfo_t holding the kernel_siginfo; the
 * count of all of them. Under the siglock, which every queue change takes.
 */
int cptrst_task_pending(struct task_struct *t, int shared, struct cptrst_pending *out,
			void *buf, unsigned int max)
{
	struct sighand_struct *sh;
	struct sigpending *p;
	struct sigqueue *q;
	unsigned long flags;
	unsigned int n = 0;

	memset(out, 0, sizeof(*out));
	sh = sig_lock(t, &flags);
	if (!sh)
		return -ESRCH;
	p = shared ? &t->signal->shared_pending : &t->pending;
	out->signal = p->signal.sig[0];
	list_for_each_entry(q, &p->list, list) {
		if (n < max) {
			char *dst = (char *)buf + (size_t)n * CPTRST_SIGINFO_LEN;

			memset(dst, 0, CPTRST_SIGINFO_LEN);
			memcpy(dst, &q->info, sizeof(q->info));
		}
		n++;
	}
	spin_unlock_irqrestore(&sh->siglock, flags);
	out->count = n;
	return 0;
}

/* thread_group_sample_cputime() (unexported): the running cputimer. */
static void group_sample(struct signal_struct *sig, struct cptrst_itimers *it)
{
	struct task_cputime_atomic *at = &sig->cputimer.cputime_atomic;
	u64 utime = atomic64_read(&at->utime);
	u64 stime = atomic64_read(&at->stime);

	it->cputimer_active = READ_ONCE(sig->posix_cputimers.timers_active);
	it->cpu_sample[CPUCLOCK_PROF] = utime + stime;
	it->cpu_sample[CPUCLOCK_VIRT] = utime;
}

/*
 * An hrtimer's expiry and its base's time, read: never forwarded. The
 * base may change under a migration, not its clock.
 */
static void hrtimer_read(struct hrtimer *h, s64 *expires, s64 *now)
{
	struct hrtimer_clock_base *base = READ_ONCE(h->base);

	*expires = ktime_to_ns(hrtimer_get_expires(h));
	*now = ktime_to_ns(base->get_time());
}

/*
 * What @leader's thread group shares: rlimits (under task_lock of the
 * group leader, as prlimit64 writes them), mm flags, interval timers and
 * sigactions (under the siglock, as getitimer and rt_sigaction read them).
 */
int cptrst_task_proc_facts(struct task_struct *leader, struct cptrst_proc_facts *out)
{
	struct signal_struct *sig = leader->signal;
	struct sighand_struct *sh;
	struct cptrst_itimers *it = &out->itimers;
	unsigned long flags;
	unsigned int i;

	memset(out, 0, sizeof(*out));
	task_lock(leader->group_leader);
	for (i = 0; i < RLIM_NLIMITS; i++) {
		out->rlim[i].cur = sig->rlim[i].rlim_cur;
		out->rlim[i].max = sig->rlim[i].rlim_max;
	}
	task_unlock(leader->group_leader);
	task_lock(leader);
	if (leader->mm) {
		out->has_mm = 1;
		out->mm_flags = leader->mm->flags;
		out->def_flags = leader->mm->def_flags;
		out->dumpable = get_dumpable(leader->mm);
	}
	task_unlock(leader);

	sh = sig_lock(leader, &flags);
	if (!sh)
		return -ESRCH;
	out->subreaper = sig->is_child_subreaper;
	it->real_active = hrtimer_active(&sig->real_timer);
	hrtimer_read(&sig->real_timer, &it->real_expires, &it->real_now);
	it->real_incr = ktime_to_ns(sig->it_real_incr);
	for (i = 0; i < 2; i++) {
		it->cpu_expires[i] = sig->it[i].expires;
		it->cpu_incr[i] = sig->it[i].incr;
	}
	group_sample(sig, it);
	it->tick_ns = TICK_NSEC;
	for (i = 0; i < _NSIG; i++) {
		const struct sigaction *sa = &sh->action[i].sa;

		out->action[i].handler = (unsigned long)sa->sa_handler;
		out->action[i].flags = sa->sa_flags;
		out->action[i].restorer = (unsigned long)sa->sa_restorer;
		out->action[i].mask = sa->sa_mask.sig[0];
	}
	spin_unlock_irqrestore(&sh->siglock, flags);
	return 0;
}

static bool hrtimer_clock(clockid_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME ||
	       c == CLOCK_TAI;
}

/* One timer, under its it_lock. */
static void timer_read(struct k_itimer *k, struct pid_namespace *ns, struct cptrst_timer_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->id = k->it_id;
	f->clock = k->it_clock;
	f->notify = k->it_sigev_notify;
	if (k->sigq) {
		f->signo = k->sigq->info.si_signo;
		f->value = (unsigned long)k->sigq->info.si_ptr;
	}
	if ((k->it_sigev_notify & SIGEV_THREAD_ID) && k->it_pid)
		f->tid = pid_nr_ns(k->it_pid, ns);
	f->interval = ktime_to_ns(k->it_interval);
	f->overrun_last = k->it_overrun_last;
	if (k->it_active)
		f->flags |= CPTRST_TMR_ACTIVE;
	if (hrtimer_clock(k->it_clock)) {
		f->flags |= CPTRST_TMR_HRTIMER;
		hrtimer_read(&k->it.real.timer, &f->expires, &f->now);
	}
}

/*
 * The POSIX timers of @leader's thread group, up to @max; their count.
 * The list changes under the siglock, a timer under its it_lock, which
 * nests outside the siglock (the expiry queues the signal with it held):
 * so each it_lock is only tried here, and if one is busy (its expiry
 * runs on another CPU) the walk starts over, at most 1000 times.
 */
int cptrst_task_timers(struct task_struct *leader, struct pid_namespace *ns,
		       struct cptrst_timer_facts *buf, unsigned int max)
{
	struct sighand_struct *sh;
	struct k_itimer *k;
	unsigned long flags;
	unsigned int n, tries;

	for (tries = 0; tries < 1000; tries++) {
		bool busy = false;

		sh = sig_lock(leader, &flags);
		if (!sh)
			return -ESRCH;
		n = 0;
		hlist_for_each_entry(k, &leader->signal->posix_timers, list) {
			if (n < max) {
				if (!spin_trylock(&k->it_lock)) {
					busy = true;
					break;
				}
				timer_read(k, ns, &buf[n]);
				spin_unlock(&k->it_lock);
			}
			n++;
		}
		spin_unlock_irqrestore(&sh->siglock, flags);
		if (!busy)
			return n;
		cpu_relax();
	}
	return -EBUSY;
}
