//! The peer-side ring fuzz of `process_ring_forged`, at a million cases.
mod ring_fuzz;

#[test]
#[ignore = "stress: run by .ci/run's stress step"]
fn a_million_forging_peers() {
    let tally = ring_fuzz::run(0x5354_5245_5353, 1_000_000);
    eprintln!("{tally:?}");
    assert!(tally.corrupt > 0 && tally.too_long > 0, "{tally:?}");
}
