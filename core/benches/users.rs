//! How fast the model runs its users: the sunrpc server answering 256 KiB NFS READs and WRITEs in
//! turn (Lever's calibration workload, `calibrate::LeverRun`: each RPC is one `svc_alloc_arg()`
//! refill, of 65 holes after a READ and 1 after a WRITE, and the release of the reply) in each
//! `svc_alloc_arg()` form, and a page_pool consumed
//! by NAPI polls of 64 packets (recycling, releasing to the stack, slow-path refills of 64 through
//! `alloc_pages_bulk_array`). Each with the trace off and recording, so the price of the event
//! log for a UI is visible. These time the simulator, not the kernel: the kernel's simulated time
//! is the cost model's (`pageflow cost --calibrate`).
//!
//! `cargo bench -p pageflow-core --bench users -- --warm-up-time 1 --measurement-time 3`

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pageflow_core::calibrate::LeverRun;
use pageflow_core::profile::SvcAllocArg;
use pageflow_core::users::page_pool::{PagePool, PoolConfig};
use pageflow_core::{Machine, MachineConfig, Profile, TraceMode};

/// A Record-mode trace is emptied when it grows past this many events, so memory stays bounded
/// over millions of iterations (`clear` of a `Vec` of `Copy` events is O(1)).
const RECORD_CAP: usize = 1 << 16;

const MODES: [(TraceMode, &str); 2] = [(TraceMode::Off, "trace_off"), (TraceMode::Record, "trace_record")];

/// The forms of Lever's rows, on the profile they are calibrated on.
const FORMS: [(SvcAllocArg, &str); 3] = [
    (SvcAllocArg::PerPage, "per_page"),
    (SvcAllocArg::ListRfc, "list_rfc"),
    (SvcAllocArg::ArraySleepOnShortfall, "array"),
];

fn bound(m: &mut Machine) {
    if m.trace.events.len() > RECORD_CAP {
        m.trace.events.clear();
    }
}

/// Time per RPC served: `svc_recv()`'s refill (33 pages on average), then the reply's release.
fn bench_sunrpc(c: &mut Criterion) {
    let profile = Profile::by_id("5.13").expect("the calibration profile exists");
    let mut group = c.benchmark_group("sunrpc_lever_mix_per_rpc");
    group.throughput(Throughput::Elements(1));
    for (form, form_name) in FORMS {
        for (mode, mode_name) in MODES {
            let mut run = LeverRun::new(profile, form, mode);
            group.bench_function(format!("{form_name}/{mode_name}"), |b| {
                b.iter(|| {
                    let refill = run.request();
                    bound(&mut run.machine);
                    refill.filled
                })
            });
            run.machine.check().expect("the model is consistent after the benchmark");
        }
    }
    group.finish();
}

/// Time per NAPI poll of 64 packets on a 4 GiB machine of the default profile, with the default
/// verdicts (half dropped and recycled, some passed to the stack, some released).
fn bench_page_pool(c: &mut Criterion) {
    let mut group = c.benchmark_group("page_pool_napi_poll_64");
    group.throughput(Throughput::Elements(1));
    for (mode, mode_name) in MODES {
        let mut m = Machine::new(&MachineConfig::simple(2032, 2048, 2), Profile::default_profile(), mode)
            .expect("a valid machine");
        let mut pool = PagePool::new(&mut m, PoolConfig::default(), "bench").expect("a valid pool");
        group.bench_function(mode_name, |b| {
            b.iter(|| {
                let got = pool.napi_poll(&mut m, 64);
                m.run_kswapd();
                bound(&mut m);
                // The refill log grows by one entry per slow-path refill; keep it bounded too.
                if pool.refills.len() > 1024 {
                    pool.refills.clear();
                }
                got
            })
        });
        m.check().expect("the model is consistent after the benchmark");
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_sunrpc, bench_page_pool
}
criterion_main!(benches);
