"""The mutation list for tools/mutants.py: each entry breaks one rule the runtime promises.

`add(name, what, path, edits, command, env)`: `edits` is a list of (find, replace, count),
where `find` must occur exactly `count` times in `path` (all are replaced). `command` is the
test that should catch the mutant; `loom(...)` gives a loom run's command and environment.
Keep the names stable: docs/testing.md refers to them.
"""


def define(add, cargo_test, loom):
    # --- the task core and channels -----------------------------------------------------
    cmd, env = loom("switchyard-runtime", "task::loom")
    add("task_state_load_relaxed",
        "a task's state is read with Acquire, so whoever sees COMPLETE sees the output",
        "runtime/src/task/state.rs",
        [("Snapshot(self.word.load(Ordering::Acquire))",
          "Snapshot(self.word.load(Ordering::Relaxed))", 1)],
        cmd, env)
    add("mpsc_wake_not_passed_on",
        "a send wakes the waiting receiver",
        "runtime/src/sync/mpsc.rs",
        [("            Ok(()) => {\n                self.chan.rx_waker.wake();\n",
          "            Ok(()) => {\n", 1)],
        cargo_test("-p", "switchyard-runtime", "--lib", "sync::"))
    cmd, env = loom("switchyard-runtime", "sync::")
    add("mpsc_sender_fence_removed",
        "a sender waiting for room and the receiver freeing a slot cannot miss each other",
        "runtime/src/sync/mpsc.rs",
        [("            // retry's read of `head` against the receiver's fence (module doc).\n"
          "            fence(Ordering::SeqCst);\n",
          "            // retry's read of `head` against the receiver's fence (module doc).\n", 1)],
        cmd, env)
    add("reactor_generation_check_dropped",
        "an event for a dropped registration never wakes the slot's next owner",
        "runtime/src/reactor/table.rs",
        [("            Some(slot) if slot.generation == key.generation => {\n"
          "                slot.io.set_readiness",
          "            Some(slot) => {\n                slot.io.set_readiness", 1)],
        cargo_test("-p", "switchyard-runtime", "--lib", "reactor::"))

    # --- the loop ---------------------------------------------------------------------------
    cmd, env = loom("switchyard-runtime", "driver::park")
    add("loop_park_fence_removed",
        "a remote wake or spawn is never missed while the loop (any Driver) parks",
        "runtime/src/driver/park.rs",
        [("        // `notified` store cannot both be missed by the loads that follow each fence.\n"
          "        fence(Ordering::SeqCst);\n",
          "        // `notified` store cannot both be missed by the loads that follow each fence.\n",
          1)],
        cmd, env)

    # --- the pool ---------------------------------------------------------------------------
    cmd, env = loom("switchyard-scheduler", "pool::")
    add("pool_s3_recheck_deleted",
        "a worker re-checks every queue after registering as a sleeper (S3)",
        "scheduler/src/pool/sleep.rs",
        [("let found = if s.is_shut_down() { None } else { s.look() };",
          "let found: Option<S::Found> = None;", 1)],
        cmd, env)
    add("pool_s3_recheck_deleted_stress",
        "the same S3 mutant, against the ordinary suite (no loom)",
        "scheduler/src/pool/sleep.rs",
        [("let found = if s.is_shut_down() { None } else { s.look() };",
          "let found: Option<S::Found> = None;", 1)],
        cargo_test("--test", "pool_sleep_random_gaps"))
    add("pool_lifo_bound_ignored",
        "the LIFO slot runs at most lifo_poll_bound times in a row",
        "scheduler/src/pool/worker.rs",
        [("if streak < bound {", "if true {", 1)],
        cargo_test("--test", "pool_scheduling_rules"))
    add("pool_injector_check_removed",
        "a worker takes from the injector every global_queue_interval ticks",
        "scheduler/src/pool/worker.rs",
        [("if self.tick % shared.config.global_queue_interval == 0 {", "if false {", 1)],
        cargo_test("--test", "pool_scheduling_rules"))
    add("pool_poll_without_budget",
        "each task poll runs under a fresh coop budget (Runnable::run installs it, so every "
        "scheduler built on the task core, the pool's included, gets it)",
        "runtime/src/task/raw.rs",
        [("let outer_budget = coop::enter_poll(coop::Budget::initial());",
          "let outer_budget = coop::enter_poll(coop::Budget::unconstrained());", 1)],
        cargo_test("--test", "pool_scheduling_rules"))
    add("pool_s4_pushes_notify",
        "a worker in S4 (firing timers, dispatching I/O as the driver) does not notify per job "
        "it schedules onto its own seat; S5 shares once after",
        "scheduler/src/pool/shared.rs",
        [("if !with_current(|cx| cx.is_some_and(|cx| cx.defer_notifies.get())) {",
          "if true {", 1)],
        cargo_test("--test", "pool_io_batch_wakes_nobody"))
    add("pool_idle_never_sleeps",
        "an idle worker parks (it does not spin for ever)",
        "scheduler/src/pool/sleep.rs",
        [("        s.park();\n", "        std::hint::spin_loop();\n", 1)],
        cargo_test("--test", "pool_scheduling_rules", "--test", "pool_hooks"))

    # --- processes --------------------------------------------------------------------------
    add("msg_nosignal_removed",
        "a write to a dead peer is an error value, never a SIGPIPE",
        "runtime/src/process/sys.rs",
        [("libc::MSG_NOSIGNAL | if nonblocking", "0 | if nonblocking", 2),
         ("&msg, libc::MSG_NOSIGNAL)", "&msg, 0)", 1)],
        cargo_test("--test", "process_ipc_failures"))
    add("pipe_sigpipe_unmasked",
        "a pipe write to a dead peer is an error value, never a SIGPIPE",
        "runtime/src/process/channel.rs",
        [("mask_sigpipe: sys::sigpipe_is_default(),", "mask_sigpipe: false,", 1)],
        cargo_test("--test", "process_ipc_failures"))
    add("child_drop_skips_waitpid",
        "dropping a Child reaps it",
        "runtime/src/process/child.rs",
        [("            let _ = sys::kill(self.pid, libc::SIGKILL);\n"
          "            let _ = sys::waitpid(self.pid);\n",
          "            let _ = sys::kill(self.pid, libc::SIGKILL);\n", 1)],
        cargo_test("--test", "process_start_methods", "--test", "procs_no_leaks_after_drop"))
    add("retired_worker_never_reaped",
        "a worker retired after max_tasks_per_child is reaped",
        "scheduler/src/procs/manager.rs",
        [("        if let Some(slot) = self.take_slot(i) {\n            close_and_reap(slot);\n",
          "        if let Some(slot) = self.take_slot(i) {\n            std::mem::forget(slot);\n",
          1)],
        cargo_test("--test", "procs_pool_options", "--test", "procs_no_leaks_after_drop"))
