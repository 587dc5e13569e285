//! The pool's task table uses the runtime's [`TaskSlab`] (moved there by issue 9, with the
//! slot-in-the-id trick and the shutdown order it serves documented beside it); this re-export
//! keeps the pool's `crate::task_slab::TaskSlab` path while the pool is being changed.

pub(crate) use switchyard_runtime::task::TaskSlab;
