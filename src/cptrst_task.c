// SPDX-License-Identifier: GPL-2.0
/*
 * cptrst C shim for tasks, pids, credentials, registers, FPU, eclone and
 * the machine: what Rust (src/task.rs, pid.rs, cred.rs, signal.rs,
 * eclone.rs, machine.rs) cannot reach through 6.12's bindings: inline
 * functions, macros, RCU walks and regsets. Each function returns facts or
 * writes what Rust validated; every decision is made in Rust.
 * Declarations: include/cptrst_abi.h ("task objects").
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/elf.h>
#include <linux/file.h>
#include <linux/futex.h>
#include <linux/nsproxy.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <linux/regset.h>
#include <linux/rseq.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/user_namespace.h>
#include <linux/utsname.h>
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/ptrace.h>
#include <asm/sighandling.h>

#include "../include/cptrst_abi.h"

#define OFF(s, f, n) static_assert(offsetof(struct s, f) == (n))

OFF(cptrst_creds, uid, 0);
OFF(cptrst_creds, gid, 4);
OFF(cptrst_creds, euid, 8);
OFF(cptrst_creds, egid, 12);
OFF(cptrst_creds, suid, 16);
OFF(cptrst_creds, sgid, 20);
OFF(cptrst_creds, fsuid, 24);
OFF(cptrst_creds, fsgid, 28);
static_assert(sizeof(struct cptrst_creds) == 32);

OFF(cptrst_task_info, pids, 0);
OFF(cptrst_task_info, nr_levels, 128);
OFF(cptrst_task_info, tgid, 132);
OFF(cptrst_task_info, ppid, 136);
OFF(cptrst_task_info, pgid, 140);
OFF(cptrst_task_info, sid, 144);
OFF(cptrst_task_info, exit_code, 148);
OFF(cptrst_task_info, exit_state, 152);
OFF(cptrst_task_info, flags, 156);
OFF(cptrst_task_info, personality, 160);
OFF(cptrst_task_info, cred, 164);
OFF(cptrst_task_info, exit_signal, 196);
OFF(cptrst_task_info, blocked, 200);
OFF(cptrst_task_info, comm, 208);
static_assert(sizeof(struct cptrst_task_info) == 224);

OFF(cptrst_dump_facts, kthread, 0);
OFF(cptrst_dump_facts, same_ids, 1);
OFF(cptrst_dump_facts, cap_cred_ns, 2);
OFF(cptrst_dump_facts, has_mm, 3);
OFF(cptrst_dump_facts, dumpable_user, 4);
OFF(cptrst_dump_facts, cap_mm_ns, 5);
OFF(cptrst_dump_facts, exited, 6);
OFF(cptrst_dump_facts, traced_by_caller, 7);
OFF(cptrst_dump_facts, traced, 8);
OFF(cptrst_dump_facts, on_cpu, 9);
OFF(cptrst_dump_facts, pad, 10);
static_assert(sizeof(struct cptrst_dump_facts) == 16);

OFF(cptrst_thread_state, clear_child_tid, 0);
OFF(cptrst_thread_state, robust_list, 8);
OFF(cptrst_thread_state, robust_list_len, 16);
OFF(cptrst_thread_state, rseq, 24);
OFF(cptrst_thread_state, rseq_len, 32);
OFF(cptrst_thread_state, rseq_sig, 36);
static_assert(sizeof(struct cptrst_thread_state) == 40);

OFF(cptrst_eclone_level, capable, 0);
OFF(cptrst_eclone_level, has_reaper, 1);
OFF(cptrst_eclone_level, pid_in_use, 2);
OFF(cptrst_eclone_level, pad, 3);
static_assert(sizeof(struct cptrst_eclone_level) == 4);
OFF(cptrst_eclone_facts, base_level, 0);
OFF(cptrst_eclone_facts, nr_levels, 4);
OFF(cptrst_eclone_facts, newpid_capable, 8);
OFF(cptrst_eclone_facts, pad, 12);
OFF(cptrst_eclone_facts, lv, 16);
static_assert(sizeof(struct cptrst_eclone_facts) == 16 + 4 * CPTRST_MAX_LEVELS);
static_assert(CPTRST_MAX_LEVELS == MAX_PID_NS_LEVEL);

/* ---------------------------------------------------------------------
 * Tasks.
 */

/* Is @t's thread group @root's, or a descendant of it? Under RCU. */
static bool in_tree(struct task_struct *t, struct task_struct *root)
{
	struct task_struct *p = t->group_leader;

	for (;;) {
		struct task_struct *parent;

		if (p == root)
			return true;
		parent = rcu_dereference(p->real_parent);
		if (parent == p || p->pid == 0)
			return false;
		p = parent->group_leader;
	}
}

/* Is the caller in the thread group of the task with @root, or below it? */
int cptrst_current_in_tree_of(struct pid *root)
{
	struct task_struct *r;
	int ret = 0;

	rcu_read_lock();
	r = pid_task(root, PIDTYPE_PID);
	if (r)
		ret = in_tree(current, r->group_leader);
	rcu_read_unlock();
	return ret;
}

/*
 * Collect every thread of @root's thread group and of its descendants,
 * referenced, in ascending pid order of the caller's namespace. The tree is
 * stopped, so it cannot fork; tasks that exit meanwhile are caught by the
 * state checks. Returns the count, or -E2BIG past @max; collects nothing
 * and sets *@caller_inside if the caller is itself in the tree.
 */
int cptrst_tree_collect(struct task_struct *root, struct task_struct **out, unsigned int max,
			__u32 *caller_inside)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	unsigned int n = 0;
	int nr = 1, ret = 0;

	root = root->group_leader;
	rcu_read_lock();
	*caller_inside = in_tree(current, root);
	if (*caller_inside)
		goto out;
	for (;;) {
		struct pid *pid = find_ge_pid(nr, ns);
		struct task_struct *t;

		if (!pid)
			break;
		nr = pid_nr_ns(pid, ns) + 1;
		t = pid_task(pid, PIDTYPE_PID);
		if (!t || t->exit_state == EXIT_DEAD || !in_tree(t, root))
			continue;
		if (n == max) {
			ret = -E2BIG;
			break;
		}
		get_task_struct(t);
		out[n++] = t;
	}
out:
	rcu_read_unlock();
	if (ret) {
		while (n)
			put_task_struct(out[--n]);
		return ret;
	}
	return n;
}

/* Do the caller's uid and gid equal @tcred's real, effective and saved ones? */
static bool same_ids(const struct cred *cred, const struct cred *tcred)
{
	return uid_eq(cred->uid, tcred->euid) && uid_eq(cred->uid, tcred->suid) &&
	       uid_eq(cred->uid, tcred->uid) && gid_eq(cred->gid, tcred->egid) &&
	       gid_eq(cred->gid, tcred->sgid) && gid_eq(cred->gid, tcred->gid);
}

/*
 * The facts of the checkpoint permission rule (cred.rs): the basic
 * uid/dumpable rules of ptrace, and whether @t is ptrace-stopped by the
 * caller and off its CPU. The capabilities are asked without audit.
 */
void cptrst_task_dump_facts(struct task_struct *t, struct cptrst_dump_facts *out)
{
	const struct cred *tcred;
	struct user_namespace *mm_ns = NULL;
	struct task_struct *tracer;
	int dumpable = SUID_DUMP_USER;

	memset(out, 0, sizeof(*out));
	out->kthread = !!(t->flags & PF_KTHREAD);
	rcu_read_lock();
	tcred = __task_cred(t);
	out->same_ids = same_ids(current_cred(), tcred);
	out->cap_cred_ns = ns_capable_noaudit(tcred->user_ns, CAP_SYS_PTRACE);
	rcu_read_unlock();
	task_lock(t);
	if (t->mm) {
		dumpable = get_dumpable(t->mm);
		mm_ns = get_user_ns(t->mm->user_ns);
	}
	task_unlock(t);
	out->has_mm = !!mm_ns;
	out->dumpable_user = dumpable == SUID_DUMP_USER;
	if (mm_ns) {
		out->cap_mm_ns = ns_capable_noaudit(mm_ns, CAP_SYS_PTRACE);
		put_user_ns(mm_ns);
	}
	out->exited = !!READ_ONCE(t->exit_state);
	rcu_read_lock();
	tracer = t->ptrace ? rcu_dereference(t->parent) : NULL;
	out->traced_by_caller = tracer && same_thread_group(tracer, current);
	rcu_read_unlock();
	out->traced = task_is_traced(t);
	out->on_cpu = !!READ_ONCE(t->on_cpu);
}

static void task_creds(struct task_struct *t, struct cptrst_creds *c)
{
	struct user_namespace *uns = current_user_ns();
	const struct cred *tcred = __task_cred(t);

	c->uid = from_kuid_munged(uns, tcred->uid);
	c->gid = from_kgid_munged(uns, tcred->gid);
	c->euid = from_kuid_munged(uns, tcred->euid);
	c->egid = from_kgid_munged(uns, tcred->egid);
	c->suid = from_kuid_munged(uns, tcred->suid);
	c->sgid = from_kgid_munged(uns, tcred->sgid);
	c->fsuid = from_kuid_munged(uns, tcred->fsuid);
	c->fsgid = from_kgid_munged(uns, tcred->fsgid);
}

int cptrst_task_info(struct task_struct *t, struct pid_namespace *ns, struct cptrst_task_info *out)
{
	struct pid *pid;
	unsigned int i;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	__get_task_comm(out->comm, sizeof(out->comm), t);
	rcu_read_lock();
	if (!pid_alive(t)) {
		ret = -ESRCH;
		goto out;
	}
	pid = task_pid(t);
	if (pid->level < ns->level || pid->numbers[ns->level].ns != ns) {
		ret = -EINVAL;	/* not inside the tree's namespace */
		goto out;
	}
	for (i = ns->level; i <= pid->level; i++)
		out->pids[i - ns->level] = pid->numbers[i].nr;
	out->nr_levels = pid->level - ns->level + 1;
	out->tgid = task_tgid_nr_ns(t, ns);
	out->ppid = task_tgid_nr_ns(rcu_dereference(t->real_parent), ns);
	out->pgid = task_pgrp_nr_ns(t, ns);
	out->sid = task_session_nr_ns(t, ns);
	out->exit_code = t->exit_code;
	out->exit_state = t->exit_state;
	if (thread_group_leader(t))
		out->flags |= CPTRST_TI_LEADER;
	if (t->flags & PF_KTHREAD)
		out->flags |= CPTRST_TI_KTHREAD;
	if (t->mm)
		out->flags |= CPTRST_TI_HAS_MM;
	out->personality = t->personality;
	out->exit_signal = t->exit_signal;
	out->blocked = t->blocked.sig[0];
	task_creds(t, &out->cred);
out:
	rcu_read_unlock();
	return ret;
}

/* Is @t a child of @parent's thread group? */
int cptrst_task_child_of(struct task_struct *t, struct task_struct *parent)
{
	int ret;

	rcu_read_lock();
	ret = pid_alive(t) && same_thread_group(rcu_dereference(t->real_parent), parent);
	rcu_read_unlock();
	return ret;
}

/*
 * The per-thread state @t registered with the kernel. @t is stopped (or a
 * zombie), so the fields do not change under us.
 */
void cptrst_task_thread_state(struct task_struct *t, struct cptrst_thread_state *out)
{
	memset(out, 0, sizeof(*out));
	out->clear_child_tid = (unsigned long)READ_ONCE(t->clear_child_tid);
#ifdef CONFIG_FUTEX
	out->robust_list = (unsigned long)READ_ONCE(t->robust_list);
	if (out->robust_list)
		out->robust_list_len = sizeof(struct robust_list_head);
#endif
#ifdef CONFIG_RSEQ
	out->rseq = (unsigned long)READ_ONCE(t->rseq);
	out->rseq_len = READ_ONCE(t->rseq_len);
	out->rseq_sig = READ_ONCE(t->rseq_sig);
#endif
}

/* ---------------------------------------------------------------------
 * Pids and pid namespaces: the inline reference helpers and RCU lookups.
 */
void cptrst_pid_get(struct pid *pid)
{
	get_pid(pid);
}

void cptrst_pidns_get(struct pid_namespace *ns)
{
	get_pid_ns(ns);
}

struct pid_namespace *cptrst_task_pidns_get(struct task_struct *t)
{
	struct pid_namespace *ns = NULL;

	rcu_read_lock();
	if (pid_alive(t))
		ns = get_pid_ns(task_active_pid_ns(t));
	rcu_read_unlock();
	return ns;
}

/* The pid namespace @pid was allocated in (its task's active one), referenced. */
struct pid_namespace *cptrst_pid_ns_get(struct pid *pid)
{
	return get_pid_ns(ns_of_pid(pid));
}

/* Does a live task (neither exiting nor a zombie) have pid @nr in @ns? */
int cptrst_pid_alive(struct pid_namespace *ns, int nr)
{
	struct task_struct *t;
	int ret = 0;

	rcu_read_lock();
	t = pid_task(find_pid_ns(nr, ns), PIDTYPE_PID);
	if (t)
		ret = !(READ_ONCE(t->flags) & PF_EXITING) && !READ_ONCE(t->exit_state);
	rcu_read_unlock();
	return ret;
}

/* ---------------------------------------------------------------------
 * Registers and FPU, through the regsets (the ptrace and core dump code).
 */
static const struct user_regset *find_regset(struct task_struct *t, unsigned int note)
{
	const struct user_regset_view *view = task_user_regset_view(t);
	unsigned int i;

	for (i = 0; i < view->n; i++)
		if (view->regsets[i].core_note_type == note)
			return &view->regsets[i];
	return NULL;
}

static int get_regset(struct task_struct *t, unsigned int note, void *buf, unsigned int size)
{
	const struct user_regset *rs = find_regset(t, note);
	int ret;

	if (!rs)
		return -EOPNOTSUPP;
	if (rs->n * rs->size != size)
		return -EINVAL;
	ret = regset_get(t, rs, size, buf);
	if (ret < 0)
		return ret;
	return ret == size ? 0 : -EIO;
}

/* The general registers (struct user_regs_struct, 216 bytes). */
int cptrst_task_regs(struct task_struct *t, void *buf, unsigned int size)
{
	return get_regset(t, NT_PRSTATUS, buf, size);
}

/* The xstate of a stopped task in the standard (non-compacted) format. */
int cptrst_task_xstate(struct task_struct *t, void *buf, unsigned int size)
{
	return get_regset(t, NT_X86_XSTATE, buf, size);
}

/*
 * Set the xstate of @t from a standard-format XSAVE buffer of exactly the
 * regset's size, through the NT_X86_XSTATE regset (which validates it and
 * converts it to the kernel's format). Rust calls it only with a proof
 * that @t parked its FPU (FpuParked in task.rs); never on the caller.
 */
int cptrst_task_set_xstate(struct task_struct *t, const void *buf, unsigned int size)
{
	const struct user_regset *rs;

	if (t == current)
		return -EINVAL;
	rs = find_regset(t, NT_X86_XSTATE);
	if (!rs || !rs->set)
		return -EOPNOTSUPP;
	if (rs->n * rs->size != size)
		return -EINVAL;
	return rs->set(t, rs, 0, size, buf, NULL);
}

/* ---------------------------------------------------------------------
 * The calling task: writes of what Rust validated.
 */

/* Where the caller goes when its ioctl returns: @ip, with stack @sp. */
void cptrst_cur_set_ip_sp(__u64 ip, __u64 sp)
{
	struct pt_regs *r = current_pt_regs();

	r->ip = ip;
	r->sp = sp;
	r->orig_ax = -1;
}

/*
 * Write the general registers (struct user_regs_struct order, 27 words)
 * into the caller's saved user registers: they take effect when the ioctl
 * returns. Rust checked cs and ss (the 64-bit user selectors, written as
 * the constants) and that ip and sp are user addresses. Only the flags a
 * signal return may set are taken (FIX_EFLAGS). orig_ax = -1: no syscall
 * restart on the way out. ax is overwritten by the ioctl's return value;
 * cptrst_cur_queue_ax() sets it afterwards. fs/gs bases are set by the
 * trampoline, the selectors ds/es/fs/gs are left as they are.
 */
void cptrst_cur_set_regs(const __u64 *v)
{
	struct pt_regs *r = current_pt_regs();

	r->r15 = v[0];
	r->r14 = v[1];
	r->r13 = v[2];
	r->r12 = v[3];
	r->bp = v[4];
	r->bx = v[5];
	r->r11 = v[6];
	r->r10 = v[7];
	r->r9 = v[8];
	r->r8 = v[9];
	r->ax = v[10];
	r->cx = v[11];
	r->dx = v[12];
	r->si = v[13];
	r->di = v[14];
	r->orig_ax = -1;
	r->ip = v[16];
	r->cs = __USER_CS;
	r->flags = (r->flags & ~FIX_EFLAGS) | (v[18] & FIX_EFLAGS);
	r->sp = v[19];
	r->ss = __USER_DS;
}

/*
 * The command name. As __set_task_comm() (not exported) without its trace
 * and perf events: under task_lock, NUL-padded.
 */
void cptrst_cur_set_comm(const char *comm)
{
	char buf[TASK_COMM_LEN];

	memcpy(buf, comm, TASK_COMM_LEN);
	buf[TASK_COMM_LEN - 1] = 0;
	task_lock(current);
	strscpy_pad(current->comm, buf, sizeof(current->comm));
	task_unlock(current);
}

#ifdef CONFIG_FUTEX
static_assert(sizeof(struct robust_list_head) == 24);	/* ROBUST_LIST_HEAD_LEN in task.rs */
#endif
#ifdef CONFIG_RSEQ
static_assert(__alignof__(struct rseq) == 32 && ORIG_RSEQ_SIZE == 32);	/* RSEQ_ALIGN, ORIG_RSEQ_LEN */
#endif

/*
 * The per-thread state the thread library registered (what
 * set_tid_address, set_robust_list and rseq store). Rust checked it as the
 * system calls do (user addresses, the robust list head's size, the rseq
 * area's alignment and size, CONFIG_RSEQ for an rseq area); the addresses
 * are checked when the kernel uses them, as for the system calls.
 */
void cptrst_cur_set_thread_state(const struct cptrst_thread_state *ts)
{
	current->clear_child_tid = (int __user *)(unsigned long)ts->clear_child_tid;
#ifdef CONFIG_FUTEX
	current->robust_list = (struct robust_list_head __user *)(unsigned long)ts->robust_list;
#endif
#ifdef CONFIG_RSEQ
	if (ts->rseq) {
		current->rseq = (struct rseq __user *)(unsigned long)ts->rseq;
		current->rseq_len = ts->rseq_len;
		current->rseq_sig = ts->rseq_sig;
		rseq_set_notify_resume(current);
	}
#endif
}

/*
 * rax: the syscall return path stores the ioctl's result in regs->ax after
 * the ioctl returns, so the restored value is written by a task work, which
 * runs after that store and before any signal frame is built. The work
 * holds a reference on @pin, the /dev/cptrst file whose fops own the module,
 * so that the module cannot be unloaded while the work is queued; the
 * callback's last act is fput(), which defers the final release (and the
 * module_put()) to after the callback has returned.
 */
struct cptrst_ax_work {
	struct callback_head cb;
	struct file *pin;
	u64 ax;
};

static void cptrst_ax_fn(struct callback_head *cb)
{
	struct cptrst_ax_work *w = container_of(cb, struct cptrst_ax_work, cb);
	struct file *pin = w->pin;

	if (!(current->flags & PF_EXITING))
		current_pt_regs()->ax = w->ax;
	kfree(w);
	fput(pin);
}

int cptrst_cur_queue_ax(struct file *pin, __u64 ax)
{
	struct cptrst_ax_work *w = kmalloc(sizeof(*w), GFP_KERNEL);
	int ret;

	if (!w)
		return -ENOMEM;
	w->ax = ax;
	w->pin = get_file(pin);
	init_task_work(&w->cb, cptrst_ax_fn);
	ret = task_work_add(current, &w->cb, TWA_RESUME);
	if (ret) {
		fput(pin);
		kfree(w);
	}
	return ret;
}

/*
 * Park the caller's FPU state: save the live registers into its fpstate
 * and set TIF_NEED_FPU_LOAD, so that nothing rewrites the fpstate from the
 * registers until the task returns to user space, where the fpstate is
 * loaded. Another task may then set it (cptrst_task_set_xstate()).
 */
void cptrst_cur_fpu_park(void)
{
	kernel_fpu_begin_mask(0);
	kernel_fpu_end();
}

/* ---------------------------------------------------------------------
 * eclone: the facts of the caller's pid namespaces for chosen pids.
 */
static bool cr_capable(struct user_namespace *ns)
{
	return ns_capable(ns, CAP_CHECKPOINT_RESTORE) || ns_capable(ns, CAP_SYS_ADMIN);
}

/*
 * @pids (a kernel copy, @nr entries) lists the chosen pids outermost first;
 * the last one is for the child's own pid namespace: the caller's
 * pid_ns_for_children (the base), or with @newpid a new one below it, for
 * which only newpid_capable is given. lv[k] is about the base's k-th parent
 * and its pid pids[nr - 1 - newpid - k], for as many levels as both have.
 */
void cptrst_eclone_ns_facts(const __s32 *pids, __u32 nr, __u32 newpid, struct cptrst_eclone_facts *out)
{
	struct pid_namespace *ns = current->nsproxy->pid_ns_for_children;
	unsigned int k, n = nr > newpid ? nr - newpid : 0;

	memset(out, 0, sizeof(*out));
	out->base_level = ns->level;
	if (newpid)
		out->newpid_capable = cr_capable(current_user_ns());
	for (k = 0; k < n && k < CPTRST_MAX_LEVELS && ns; k++, ns = ns->parent) {
		struct cptrst_eclone_level *lv = &out->lv[k];

		lv->capable = cr_capable(ns->user_ns);
		lv->has_reaper = !!READ_ONCE(ns->child_reaper);
		rcu_read_lock();
		lv->pid_in_use = find_pid_ns(pids[n - 1 - k], ns) != NULL;
		rcu_read_unlock();
		out->nr_levels = k + 1;
	}
}

/* ---------------------------------------------------------------------
 * The machine.
 */

/* Size of the user-ABI XSAVE buffer on this machine, 0 without XSAVE. */
unsigned int cptrst_xstate_size(void)
{
	const struct user_regset *rs = find_regset(current, NT_X86_XSTATE);

	return rs ? rs->n * rs->size : 0;
}

/* XCR0: the xstate features enabled for user space on this CPU. */
__u64 cptrst_xfeatures(void)
{
	return boot_cpu_has(X86_FEATURE_OSXSAVE) ? xgetbv(XCR_XFEATURE_ENABLED_MASK) : 0;
}

void cptrst_kernel_release(char *buf, unsigned int size)
{
	strscpy_pad(buf, utsname()->release, size);
}

/* The end of user space for the caller. */
__u64 cptrst_task_size(void)
{
	return TASK_SIZE;
}
