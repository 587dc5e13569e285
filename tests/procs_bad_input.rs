//! Bad input gets a typed error, and nothing is lost or hangs: a wrong entry name, an unknown
//! task, a task called with the wrong types, a result that does not deserialize, an item that
//! does not serialize, a chunksize of 0, a timeout of 0, an unknown initializer and
//! initializer arguments that do not decode. After each, the pool still runs tasks.
mod process_support;

use std::time::Duration;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use switchyard::runtime::process::{self, ProcessError};
use switchyard::scheduler::procs::{PoolError, ProcessPool, TaskError, Tasks};

/// A number whose `Deserialize` refuses odd values (its `Serialize` writes them anyway).
#[derive(Debug, PartialEq, Eq)]
struct Even(u32);

impl Serialize for Even {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Even {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(d)?;
        if v % 2 == 1 {
            return Err(D::Error::custom(format!("{v} is odd")));
        }
        Ok(Even(v))
    }
}

/// An item whose `Serialize` fails for zero.
#[derive(Debug)]
struct NonZero(u32);

impl Serialize for NonZero {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == 0 {
            return Err(S::Error::custom("zero is not allowed"));
        }
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for NonZero {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(NonZero)
    }
}

fn double(x: u32) -> u32 {
    2 * x
}

fn even_plus(x: u32) -> Even {
    Even(x)
}

fn unwrap_non_zero(x: NonZero) -> u32 {
    x.0
}

fn named(_: String) {}

fn pool() -> ProcessPool<u32, u32> {
    ProcessPool::builder("bad").workers(1).build().unwrap()
}

fn a_wrong_entry_name_is_a_typed_error() {
    let err = ProcessPool::<u32, u32>::builder("no-such-entry")
        .workers(1)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            &err,
            PoolError::Start(ProcessError::UnknownEntry { name }) if name == "no-such-entry"
        ),
        "{err:?}"
    );
}

fn an_unknown_task_is_a_typed_error() {
    let pool = pool();
    let r = pool.task::<u32, u32>("no-such-task").apply(1);
    let Err(TaskError::UnknownTask { task, registered }) = r else {
        panic!("expected UnknownTask, got {r:?}");
    };
    assert_eq!(task, "no-such-task");
    assert!(registered.contains(&"bad".to_owned()), "{registered:?}");
    assert_eq!(pool.apply(4), Ok(8), "the pool goes on");
}

fn wrong_types_are_a_typed_error() {
    let pool = pool();
    let r = pool.task::<String, u32>("bad").apply("four".into());
    assert_eq!(
        r,
        Err(TaskError::WrongTypes {
            task: "bad".into(),
            registered: "u32 -> u32".into(),
            called: "alloc::string::String -> u32".into(),
        })
    );
    assert_eq!(pool.apply(4), Ok(8));
}

fn a_result_that_does_not_deserialize_is_a_typed_error() {
    let pool = pool();
    let calls = pool.task::<u32, Even>("even").chunksize(1).unwrap();
    let results = calls.map(0..6);
    for (x, r) in results.iter().enumerate() {
        if x % 2 == 0 {
            assert_eq!(r, &Ok(Even(x as u32)));
        } else {
            let Err(TaskError::BadOutput(message)) = r else {
                panic!("expected BadOutput for {x}, got {r:?}");
            };
            assert!(message.contains("procs_bad_input::Even"), "{message}");
        }
    }
    assert_eq!(pool.apply(4), Ok(8));
}

fn an_item_that_does_not_serialize_is_a_typed_error() {
    let pool = pool();
    let calls = pool.task::<NonZero, u32>("non_zero").chunksize(1).unwrap();
    let results = calls.map([NonZero(1), NonZero(0), NonZero(3)]);
    assert_eq!(results[0], Ok(1));
    assert!(
        matches!(&results[1], Err(TaskError::BadInput(m)) if m.contains("NonZero")),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2], Ok(3));
}

fn a_zero_chunksize_is_a_typed_error() {
    let err = ProcessPool::<u32, u32>::builder("bad")
        .chunksize(0)
        .build()
        .unwrap_err();
    assert!(matches!(err, PoolError::ZeroChunksize), "{err:?}");
    let pool = pool();
    assert!(matches!(
        pool.calls().chunksize(0),
        Err(PoolError::ZeroChunksize)
    ));
}

fn a_zero_timeout_is_a_typed_error() {
    for builder in [
        ProcessPool::<u32, u32>::builder("bad").task_timeout(Duration::ZERO),
        ProcessPool::<u32, u32>::builder("bad").start_timeout(Duration::ZERO),
    ] {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, PoolError::ZeroTimeout), "{err:?}");
    }
    let pool = pool();
    assert!(matches!(
        pool.calls().timeout(Duration::ZERO),
        Err(PoolError::ZeroTimeout)
    ));
    // A zero wait timeout is a look, not an error that loses the result.
    let r = pool.apply_async(21);
    let _ready_now = r.wait_timeout(Duration::ZERO);
    assert_eq!(r.wait(), Ok(42));
}

fn a_bad_initializer_is_a_typed_error() {
    let err = ProcessPool::<u32, u32>::builder("bad")
        .workers(1)
        .initializer_with("no-such-initializer", &1u32)
        .build()
        .unwrap_err();
    let PoolError::Initializer { message, .. } = &err else {
        panic!("expected Initializer, got {err:?}");
    };
    assert!(message.contains("no-such-initializer"), "{message}");

    // `named` takes a String; u32::MAX encodes as a length longer than the bytes sent.
    let err = ProcessPool::<u32, u32>::builder("bad")
        .workers(1)
        .initializer_with("named", &u32::MAX)
        .build()
        .unwrap_err();
    let PoolError::Initializer { message, .. } = &err else {
        panic!("expected Initializer, got {err:?}");
    };
    assert!(message.contains("do not decode"), "{message}");
}

fn main() {
    process::init([Tasks::new("bad")
        .task("bad", double)
        .task("even", even_plus)
        .task("non_zero", unwrap_non_zero)
        .initializer("named", named)
        .entry()])
    .expect("init");
    process_support::run(&[
        (
            "a_wrong_entry_name_is_a_typed_error",
            a_wrong_entry_name_is_a_typed_error,
        ),
        (
            "an_unknown_task_is_a_typed_error",
            an_unknown_task_is_a_typed_error,
        ),
        (
            "wrong_types_are_a_typed_error",
            wrong_types_are_a_typed_error,
        ),
        (
            "a_result_that_does_not_deserialize_is_a_typed_error",
            a_result_that_does_not_deserialize_is_a_typed_error,
        ),
        (
            "an_item_that_does_not_serialize_is_a_typed_error",
            an_item_that_does_not_serialize_is_a_typed_error,
        ),
        (
            "a_zero_chunksize_is_a_typed_error",
            a_zero_chunksize_is_a_typed_error,
        ),
        (
            "a_zero_timeout_is_a_typed_error",
            a_zero_timeout_is_a_typed_error,
        ),
        (
            "a_bad_initializer_is_a_typed_error",
            a_bad_initializer_is_a_typed_error,
        ),
    ]);
}
