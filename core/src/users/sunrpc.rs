//! sunrpc's server side as a user of the page allocator: an NFS server (`svc_serv`) with threads
//! (`svc_rqst`), each holding `rq_pages`, an array of page pointers sized from `sv_max_mesg`.
//!
//! Pages stay in `rq_pages` from one request to the next. A request is received into the front of
//! the array; the reply uses the pages from `rq_respages` to `rq_next_page`, and releasing the
//! reply puts those pages and NULLs their slots, so holes appear only in the reply region. A
//! splice read swaps page-cache pages into the reply region and releases the pages it displaced
//! in batches; a TCP record that arrives in pieces parks its first pages on the socket, leaving
//! leading holes. Before each request `svc_alloc_arg()` refills the holes, in the form of the
//! kernel era ([`SvcAllocArg`]), as a state machine that executes one line of its
//! [`listing`](super::listing) per [`SvcServ::step`], so a UI can follow it and step into the
//! allocator call a line makes.

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::listing::{svc_alloc_arg_listing, Line, Listing};
use super::{call_allocator, AllocApi, AllocCall, AllocPath, Clock};
use crate::config::{ConfigError, MachineConfig};
use crate::gfp::Gfp;
use crate::machine::{Machine, Slots, PAGE_CACHE};
use crate::mem::{Pfn, NIL, PAGE_SHIFT};
use crate::profile::{Profile, SvcAllocArg, PROFILES};
use crate::trace::{Cost, Event, TraceMode};

/// `PAGE_SIZE`.
pub const PAGE_SIZE: u32 = 1 << PAGE_SHIFT;
/// `RPCSVC_MAXPAYLOAD`: 1 MiB.
pub const RPCSVC_MAXPAYLOAD: u32 = 1 << 20;
/// `RPCSVC_MAXPAGES`: the payload's pages, one for the request, one for the reply, one more for
/// an unaligned read: 259.
pub const RPCSVC_MAXPAGES: u32 = RPCSVC_MAXPAYLOAD.div_ceil(PAGE_SIZE) + 2 + 1;
/// `PAGEVEC_SIZE` (6.1): displaced pages a splice read batches before `release_pages()`.
pub const PAGEVEC_SIZE: usize = 15;
/// `CONFIG_HZ` of the modelled kernel (Debian's): one jiffy is 4 ms.
pub const HZ: u64 = 250;
/// Sleeps a refill may take before the model stops it (the kernel would sleep for ever).
pub const DEFAULT_SLEEP_BUDGET: u32 = 8;
/// The most threads a server may have.
pub const MAX_THREADS: u32 = 64;
/// The most RPCs one run may serve.
pub const MAX_RPCS: u32 = 100_000;

/// How a server is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SvcConfig {
    /// Server threads (`nfsd` threads), one `svc_rqst` each, spread over the CPUs.
    pub threads: u32,
    /// `sv_max_payload` in KiB (1024 for NFS over TCP: `rq_pages` of 259).
    pub payload_kib: u32,
    pub form: SvcAllocArg,
    /// NFSD reads by splicing page-cache pages into the reply (6.1's default for most files).
    pub splice: bool,
    /// Sleeps a refill may take before the model stops the thread as hung.
    pub sleep_budget: u32,
    /// Where the reply's pages are freed. The reply goes to TCP by `kernel_sendpage()`, which
    /// takes its own page references; they are dropped when the skbs are freed after the ACK, in
    /// the NET_RX softirq of the CPU the connection's interrupts go to. `None`: on the thread's
    /// own CPU, as if the transmit completed at once there; `Some(cpu)`: on that CPU, so the
    /// threads' pcp lists drain and refill from the buddy lists as on a busy server.
    pub tx_completion_cpu: Option<u16>,
}

impl SvcConfig {
    /// A 1 MiB server with `threads` threads and the profile's `svc_alloc_arg`.
    pub fn new(threads: u32, profile: &Profile) -> SvcConfig {
        SvcConfig {
            threads,
            payload_kib: RPCSVC_MAXPAYLOAD >> 10,
            form: profile.svc_alloc_arg,
            splice: false,
            sleep_budget: DEFAULT_SLEEP_BUDGET,
            tx_completion_cpu: None,
        }
    }

    /// `sv_max_mesg = roundup(sv_max_payload + PAGE_SIZE, PAGE_SIZE)` (`__svc_create`).
    pub fn sv_max_mesg(&self) -> u32 {
        (self.payload_kib * 1024 + PAGE_SIZE).div_ceil(PAGE_SIZE) * PAGE_SIZE
    }

    /// The `pages` of `svc_alloc_arg()`: `(sv_max_mesg + 2 * PAGE_SIZE) >> PAGE_SHIFT`, capped at
    /// `RPCSVC_MAXPAGES`.
    pub fn pages(&self) -> u32 {
        ((self.sv_max_mesg() + 2 * PAGE_SIZE) >> PAGE_SHIFT).min(RPCSVC_MAXPAGES)
    }

    /// Check the numbers and that the profile has the API the form calls. `field` prefixes the
    /// field names in errors (`actions[3]`).
    pub fn validate(&self, profile: &Profile, field: &str) -> Result<(), ConfigError> {
        let bad = |name: &str, value: String, allowed: String| ConfigError {
            field: format!("{field}.{name}"),
            value,
            allowed,
        };
        if self.threads == 0 || self.threads > MAX_THREADS {
            return Err(bad("threads", self.threads.to_string(), format!("1 to {MAX_THREADS}")));
        }
        let max_kib = RPCSVC_MAXPAYLOAD >> 10;
        if self.payload_kib < 4 || self.payload_kib > max_kib {
            return Err(bad(
                "payload_kib",
                self.payload_kib.to_string(),
                format!("4 to {max_kib} (RPCSVC_MAXPAYLOAD)"),
            ));
        }
        if self.form.needs_array_api() && !profile.has_array_api() {
            return Err(bad(
                "svc_alloc_arg",
                format!("{:?}", self.form),
                format!("per_page or list_rfc: profile {} has only the list API", profile.id),
            ));
        }
        Ok(())
    }
}

/// One thing that reaches a server thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "proc", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rpc {
    /// A small metadata call (GETATTR, LOOKUP, ...): one request page, one reply page.
    Getattr,
    /// READ of `kib` KiB: the reply uses one page for its head and one per 4 KiB of data.
    Read { kib: u32 },
    /// WRITE of `kib` KiB: the request fills one page plus one per 4 KiB; the reply one page.
    /// With `split`, the TCP record arrives in two reads: the first thread parks the pages it
    /// got on the socket (`svc_tcp_save_pages`, leaving leading holes) and the next thread takes
    /// them over (`svc_tcp_restore_pages`, putting the pages they replace).
    Write {
        kib: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        split: bool,
    },
    /// A thread woken with nothing to do (`svc_get_next_xprt` timed out): `svc_recv` goes round
    /// again, and `svc_alloc_arg` meets a full array.
    Wakeup,
}

impl Rpc {
    /// Payload KiB, for validation.
    fn kib(&self) -> Option<u32> {
        match *self {
            Rpc::Read { kib } | Rpc::Write { kib, .. } => Some(kib),
            Rpc::Getattr | Rpc::Wakeup => None,
        }
    }

    /// Check a payload against the server's maximum.
    pub fn validate(&self, svc: &SvcConfig, field: &str) -> Result<(), ConfigError> {
        match self.kib() {
            Some(kib) if kib == 0 || kib > svc.payload_kib => Err(ConfigError {
                field: format!("{field}.kib"),
                value: kib.to_string(),
                allowed: format!("1 to {} (the server's payload_kib)", svc.payload_kib),
            }),
            _ => Ok(()),
        }
    }
}

/// A seeded mix of RPCs: GETATTRs, READs and WRITEs of 4 KiB to the server's maximum (some of
/// the larger WRITEs split over two TCP reads), and idle wake-ups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcMix {
    pub count: u32,
    pub seed: u64,
}

impl RpcMix {
    /// The RPCs, for a server whose payload is at most `max_kib`.
    pub fn generate(&self, max_kib: u32) -> Vec<Rpc> {
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed);
        let sizes: Vec<u32> = (2..=10).map(|s| 1u32 << s).filter(|&k| k <= max_kib).collect();
        let size = |rng: &mut Pcg64Mcg| sizes[(rng.next_u32() as usize) % sizes.len()];
        (0..self.count)
            .map(|_| match rng.next_u32() % 100 {
                0..=34 => Rpc::Getattr,
                35..=64 => Rpc::Read { kib: size(&mut rng) },
                65..=89 => {
                    let kib = size(&mut rng);
                    Rpc::Write { kib, split: kib >= 64 && rng.next_u32() % 4 == 0 }
                }
                _ => Rpc::Wakeup,
            })
            .collect()
    }
}

/// One server thread.
#[derive(Clone, Debug, Serialize)]
pub struct SvcRqst {
    pub index: usize,
    pub cpu: u16,
    /// Holder of `rq_pages` (an array of `pages` slots).
    pub rq_pages: u32,
    /// Holder of the prototype's on-stack `LIST_HEAD(list)` (list form only).
    pub bulk_list: Option<u32>,
    /// Holder of `rq_pvec`: pages displaced by a splice read, waiting for `release_pages()`.
    pub rq_pvec: Option<u32>,
    /// Slot index of `rq_respages`.
    pub rq_respages: usize,
    /// Slot index of `rq_next_page`.
    pub rq_next_page: usize,
    /// Reply slots holding a page-cache page (splice read) until the reply is released: the
    /// model's slot is NULL, as a page has one holder; see DEVIATIONS.md.
    pub spliced: Vec<(usize, Pfn)>,
    /// `svc_alloc_arg` ran out of its sleep budget: the kernel thread would sleep for ever.
    pub hung: bool,
    /// The refill in progress, if one is being stepped. Boxed: each step takes it out of the
    /// thread and puts it back, and the per-page loop steps twice for every slot of `rq_pages`.
    #[serde(skip)]
    refill: Option<Box<RefillState>>,
}

/// What a refill did: one call of `svc_alloc_arg()` on a thread.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefillRecord {
    pub thread: usize,
    pub cpu: u16,
    pub form: SvcAllocArg,
    /// `pages`: the array length the refill fills.
    pub pages: u32,
    /// NULL slots on entry.
    pub holes_before: u32,
    /// Populated slots before the first NULL on entry (the prefix the bulk allocator skips).
    pub prefix: u32,
    /// Pages asked for, summed over the calls (holes each call was asked to fill).
    pub requested: u32,
    /// Slots filled by the refill.
    pub filled: u32,
    /// Allocator calls made.
    pub calls: u32,
    /// Calls the bulk allocator handed to the single-page path, or `alloc_page` calls.
    pub single_page_calls: u32,
    /// The allocator's cost, summed over the calls.
    pub cost: Cost,
    pub sleeps: u32,
    pub slept_ms: u64,
    /// The sleep budget ran out: the thread is stopped as hung.
    pub gave_up: bool,
    /// Lines executed.
    pub steps: u32,
    /// The server clock when the refill began.
    pub started_ns: u64,
    pub alloc_calls: Vec<AllocCall>,
}

/// Locals of a `svc_alloc_arg()` in progress.
#[derive(Clone, Debug)]
struct RefillState {
    listing: &'static Listing,
    /// Index of the line to execute next.
    pc: usize,
    pages: u32,
    i: u32,
    needed: u32,
    filled: u32,
    ret: u32,
    /// The `for` of the retry loop has run its initialiser.
    looping: bool,
    /// `p` / `page`: the page in hand.
    page: Option<Pfn>,
    record: RefillRecord,
}

/// One executed line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub thread: usize,
    /// Position of the line in its listing, and the line.
    pub index: usize,
    pub line: Line,
    /// The allocator call this line made ("step into" shows its events).
    pub call: Option<AllocCall>,
    /// Simulated time this line slept.
    pub slept_ms: u64,
    /// Set on the line that ends the refill.
    pub finished: Option<RefillRecord>,
}

/// What became of one RPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Served {
    /// Served by this thread.
    By(usize),
    /// Every thread is hung: nobody serves it.
    Unserved,
}

/// An NFS server: its threads, the socket of its one TCP connection, and its clock.
#[derive(Clone, Debug, Serialize)]
pub struct SvcServ {
    pub config: SvcConfig,
    /// `svc_alloc_arg`'s `pages`.
    pub pages: u32,
    pub threads: Vec<SvcRqst>,
    /// Holder of `svsk->sk_pages`: pages of a TCP record still being received.
    pub socket: u32,
    /// Pages parked on the socket.
    pub sk_pages: u32,
    pub clock: Clock,
    /// Round-robin dispatch: the thread the next request goes to.
    next: usize,
    pub refills: Vec<RefillRecord>,
    pub served: u64,
    pub unserved: u64,
    gfp_kernel: Gfp,
}

/// The slot of an array holder.
fn slot(m: &Machine, holder: u32, i: usize) -> Pfn {
    match &m.holders[holder as usize].slots {
        Slots::Array(a) => a[i],
        Slots::List(_) => NIL,
    }
}

/// NULL slots of an array holder among its first `n`, and its populated prefix.
fn holes(m: &Machine, holder: u32, n: usize) -> (u32, u32) {
    match &m.holders[holder as usize].slots {
        Slots::Array(a) => {
            let a = &a[..n.min(a.len())];
            let nulls = a.iter().filter(|&&p| p == NIL).count() as u32;
            let prefix = a.iter().take_while(|&&p| p != NIL).count() as u32;
            (nulls, prefix)
        }
        Slots::List(_) => (0, 0),
    }
}

impl SvcServ {
    /// The most holders the servers of one machine make when none has more than `threads`
    /// threads: the socket's `sk_pages`, and per thread `rq_pages`, the RFC list form's bulk
    /// list and splice's `rq_pvec`. Holders are named by thread index, so a second server
    /// reuses the first one's.
    pub fn max_holders(threads: u32) -> usize {
        1 + 3 * threads as usize
    }

    /// `svc_create` + `svc_prepare_thread` for each thread: `rq_pages` arrays of `pages` slots,
    /// pre-filled by `svc_init_buffer()` with `sv_max_mesg / PAGE_SIZE + 1` pages, one
    /// `alloc_page` at a time (so the last slot starts NULL). Thread `t` runs on CPU
    /// `t % cpus`. Holders are named `nfsd<t> rq_pages`; a second server on the same machine
    /// continues with the same threads.
    pub fn new(m: &mut Machine, config: SvcConfig) -> Result<SvcServ, ConfigError> {
        config.validate(m.profile, "sunrpc")?;
        if let Some(cpu) = config.tx_completion_cpu.filter(|&c| u32::from(c) >= m.config.cpus) {
            return Err(ConfigError {
                field: "sunrpc.tx_completion_cpu".into(),
                value: cpu.to_string(),
                allowed: format!("0 to {}", m.config.cpus - 1),
            });
        }
        let gfp_kernel = Gfp::composite("GFP_KERNEL", m.profile).expect("every era has GFP_KERNEL");
        let pages = config.pages();
        let socket = m.array_holder("svsk sk_pages", pages as usize)?;
        let mut threads = Vec::new();
        for t in 0..config.threads as usize {
            let cpu = (t as u32 % m.config.cpus) as u16;
            let rq_pages = m.array_holder(&format!("nfsd{t} rq_pages"), pages as usize)?;
            let init = (config.sv_max_mesg() / PAGE_SIZE + 1).min(RPCSVC_MAXPAGES) as usize;
            m.current_cpu = cpu;
            for i in 0..init {
                if slot(m, rq_pages, i) == NIL {
                    crate::sim::alloc_into_slot(m, rq_pages, Some(i), gfp_kernel, 0);
                }
            }
            threads.push(SvcRqst {
                index: t,
                cpu,
                rq_pages,
                bulk_list: (config.form == SvcAllocArg::ListRfc)
                    .then(|| m.holder_id(&format!("nfsd{t} bulk list")))
                    .transpose()?,
                rq_pvec: config.splice.then(|| m.holder_id(&format!("nfsd{t} rq_pvec"))).transpose()?,
                rq_respages: 0,
                rq_next_page: 0,
                spliced: Vec::new(),
                hung: false,
                refill: None,
            });
        }
        Ok(SvcServ {
            config,
            pages,
            threads,
            socket,
            sk_pages: 0,
            clock: Clock::default(),
            next: 0,
            refills: Vec::new(),
            served: 0,
            unserved: 0,
            gfp_kernel,
        })
    }

    /// The listing the server's threads step through.
    pub fn listing(&self) -> &'static Listing {
        svc_alloc_arg_listing(self.config.form)
    }

    /// Start `svc_alloc_arg()` on thread `t`, to be stepped with [`SvcServ::step`]. Returns
    /// false if the thread does not exist, is hung, or is already refilling.
    pub fn begin_alloc_arg(&mut self, m: &Machine, t: usize) -> bool {
        let form = self.config.form;
        let pages = self.pages;
        let started_ns = self.clock.ns;
        let Some(th) = self.threads.get_mut(t) else { return false };
        if th.hung || th.refill.is_some() {
            return false;
        }
        let (holes_before, prefix) = holes(m, th.rq_pages, pages as usize);
        th.refill = Some(Box::new(RefillState {
            listing: svc_alloc_arg_listing(form),
            pc: 0,
            pages: 0,
            i: 0,
            needed: 0,
            filled: 0,
            ret: 0,
            looping: false,
            page: None,
            record: RefillRecord {
                thread: t,
                cpu: th.cpu,
                form,
                pages,
                holes_before,
                prefix,
                requested: 0,
                filled: 0,
                calls: 0,
                single_page_calls: 0,
                cost: Cost::default(),
                sleeps: 0,
                slept_ms: 0,
                gave_up: false,
                steps: 0,
                started_ns,
                alloc_calls: Vec::new(),
            },
        }));
        true
    }

    /// The line thread `t` will execute next, with its position, while it refills.
    pub fn current_line(&self, t: usize) -> Option<(usize, &'static Line)> {
        let st = self.threads.get(t)?.refill.as_ref()?;
        Some((st.pc, &st.listing.lines[st.pc]))
    }

    /// Execute one line of thread `t`'s refill. None if it is not refilling.
    pub fn step(&mut self, m: &mut Machine, t: usize) -> Option<Step> {
        let mut st = self.threads.get_mut(t)?.refill.take()?;
        let index = st.pc;
        let line = st.listing.lines[index];
        st.record.steps += 1;
        // The line is an event too, so a player stepping the trace knows where the thread is.
        m.trace.emit(Event::Line { thread: t as u16, form: st.record.form, line: index as u16 });
        let (next, call, slept_ms) = self.exec(m, t, &mut st, line.id);
        if let Some(call) = &call {
            let r = &mut st.record;
            r.calls += 1;
            r.requested += call.holes;
            if matches!(call.path, Some(AllocPath::AllocPage | AllocPath::SinglePage { .. })) {
                r.single_page_calls += 1;
            }
            r.cost = r.cost.plus(&call.cost);
            r.alloc_calls.push(call.clone());
        }
        let finished = match next {
            Some(id) => {
                st.pc = st.listing.index_of(id).expect("a listing has every line its code jumps to");
                self.threads[t].refill = Some(st);
                None
            }
            None => {
                let mut record = st.record;
                let (after, _) = holes(m, self.threads[t].rq_pages, self.pages as usize);
                record.filled = record.holes_before.saturating_sub(after);
                if record.gave_up {
                    self.threads[t].hung = true;
                }
                self.refills.push(record.clone());
                Some(record)
            }
        };
        Some(Step { thread: t, index, line, call, slept_ms, finished })
    }

    /// Run thread `t`'s `svc_alloc_arg()` to the end.
    pub fn run_alloc_arg(&mut self, m: &mut Machine, t: usize) -> Option<RefillRecord> {
        if self.threads.get(t)?.refill.is_none() && !self.begin_alloc_arg(m, t) {
            return None;
        }
        loop {
            if let Some(record) = self.step(m, t)?.finished {
                return Some(record);
            }
        }
    }

    /// A sleep line: `ms` of simulated time, during which kswapd runs. Past the budget the
    /// thread is stopped instead (the kernel would sleep and retry for ever): None.
    fn sleep(&mut self, m: &mut Machine, st: &mut RefillState, ms: u64) -> Option<u64> {
        if st.record.sleeps >= self.config.sleep_budget {
            st.record.gave_up = true;
            return None;
        }
        st.record.sleeps += 1;
        st.record.slept_ms += ms;
        self.clock.sleep_ms(ms);
        m.run_kswapd();
        Some(ms)
    }

    /// Execute line `id` of the refill: where to go next (None: the function returned), the
    /// allocator call made and the time slept.
    fn exec(
        &mut self,
        m: &mut Machine,
        t: usize,
        st: &mut RefillState,
        id: &'static str,
    ) -> (Option<&'static str>, Option<AllocCall>, u64) {
        let (rq, cpu) = (self.threads[t].rq_pages, self.threads[t].cpu);
        let form = self.config.form;
        let go = |next: &'static str| (Some(next), None, 0);
        // The lines every form shares.
        match id {
            "pages" => {
                st.pages = (self.config.sv_max_mesg() + 2 * PAGE_SIZE) >> PAGE_SHIFT;
                // The per-page form caps on its own line; the others fold the cap in.
                if form != SvcAllocArg::PerPage {
                    st.pages = st.pages.min(RPCSVC_MAXPAGES);
                }
                return go(match form {
                    SvcAllocArg::PerPage => "clamp",
                    SvcAllocArg::ListRfc => "count",
                    _ => "for",
                });
            }
            "end" => return go("arg"),
            "arg" => return go("len"),
            "len" => return go("return"),
            "return" => return (None, None, 0),
            "state" | "empty_list" => return go("stop"),
            // kthread_should_stop() and signals are never true in the model.
            "stop" => {
                return go(match form {
                    SvcAllocArg::ArrayRetryOnProgress => "trace",
                    _ => "sleep",
                })
            }
            "trace" => return go("sleep"),
            "sleep" => {
                let ms = match form {
                    SvcAllocArg::ArrayRetryOnProgress => 1000 / HZ,
                    _ => 500,
                };
                let Some(slept) = self.sleep(m, st, ms) else { return (None, None, 0) };
                let next = match form {
                    SvcAllocArg::PerPage => "store",
                    SvcAllocArg::ListRfc => "retry",
                    _ => "for",
                };
                return (Some(next), None, slept);
            }
            _ => {}
        }
        match (form, id) {
            (SvcAllocArg::PerPage, "clamp") => {
                st.pages = st.pages.min(RPCSVC_MAXPAGES);
                st.i = 0;
                go("for")
            }
            (SvcAllocArg::PerPage, "for") => go(if st.i < st.pages { "while" } else { "end" }),
            (SvcAllocArg::PerPage, "while") => {
                if slot(m, rq, st.i as usize) == NIL {
                    go("alloc")
                } else {
                    st.i += 1;
                    go("for")
                }
            }
            (SvcAllocArg::PerPage, "alloc") => {
                let call =
                    call_allocator(m, cpu, AllocApi::AllocPage, self.gfp_kernel, rq, 1, Some(st.i as usize));
                st.page = (call.returned == 1).then(|| slot(m, rq, st.i as usize));
                (Some("if_null"), Some(call), 0)
            }
            (SvcAllocArg::PerPage, "if_null") => go(if st.page.is_some() { "store" } else { "state" }),
            // alloc_page() already put the page in slot i (a page always has one holder).
            (SvcAllocArg::PerPage, "store") => go("while"),

            (SvcAllocArg::ListRfc, "count") => {
                st.needed = holes(m, rq, st.pages as usize).0;
                go("if")
            }
            (SvcAllocArg::ListRfc, "if") => go(if st.needed > 0 { "bulk" } else { "end" }),
            (SvcAllocArg::ListRfc, "bulk") => {
                let list = self.threads[t].bulk_list.expect("the list form has a list holder");
                let call = call_allocator(m, cpu, AllocApi::BulkList, self.gfp_kernel, list, st.needed, None);
                st.i = 0;
                (Some("for"), Some(call), 0)
            }
            (SvcAllocArg::ListRfc, "for") => go(if st.i < st.pages { "hole" } else { "end" }),
            (SvcAllocArg::ListRfc, "hole") => {
                if slot(m, rq, st.i as usize) == NIL {
                    go("first")
                } else {
                    st.i += 1;
                    go("for")
                }
            }
            (SvcAllocArg::ListRfc, "first") => {
                let list = self.threads[t].bulk_list.expect("the list form has a list holder");
                st.page = match &m.holders[list as usize].slots {
                    Slots::List(l) if !l.is_empty() => Some(l.head()),
                    _ => None,
                };
                go("empty")
            }
            (SvcAllocArg::ListRfc, "empty") => go(if st.page.is_some() { "take" } else { "empty_list" }),
            (SvcAllocArg::ListRfc, "take") => {
                let list = self.threads[t].bulk_list.expect("the list form has a list holder");
                let pfn = st.page.take().expect("take follows a non-empty list");
                m.move_held(pfn, (list, None), (rq, Some(st.i as usize)));
                st.needed -= 1;
                st.i += 1;
                go("for")
            }
            (SvcAllocArg::ListRfc, "retry") => go("bulk"),

            (SvcAllocArg::ArraySleepOnShortfall, "for") => go("bulk"),
            (SvcAllocArg::ArraySleepOnShortfall, "bulk") => {
                let call = call_allocator(m, cpu, AllocApi::BulkArray, self.gfp_kernel, rq, st.pages, None);
                st.filled = call.returned;
                (Some("if_full"), Some(call), 0)
            }
            (SvcAllocArg::ArraySleepOnShortfall, "if_full") => {
                go(if st.filled == st.pages { "end" } else { "state" })
            }

            (SvcAllocArg::ArrayRetryOnProgress, "for") => {
                if st.looping {
                    st.filled = st.ret;
                } else {
                    st.filled = 0;
                    st.looping = true;
                }
                go(if st.filled < st.pages { "bulk" } else { "end" })
            }
            (SvcAllocArg::ArrayRetryOnProgress, "bulk") => {
                let call = call_allocator(m, cpu, AllocApi::BulkArray, self.gfp_kernel, rq, st.pages, None);
                st.ret = call.returned;
                (Some("progress"), Some(call), 0)
            }
            (SvcAllocArg::ArrayRetryOnProgress, "progress") => {
                go(if st.ret > st.filled { "for" } else { "state" })
            }
            (form, id) => unreachable!("line {id:?} is not in the {form:?} listing"),
        }
    }

    /// The next thread that is not hung, round robin.
    fn pick_thread(&mut self) -> Option<usize> {
        let n = self.threads.len();
        let t = (0..n).map(|k| (self.next + k) % n).find(|&t| !self.threads[t].hung)?;
        self.next = (t + 1) % n;
        Some(t)
    }

    /// The next thread whose `svc_alloc_arg()` completes; a thread whose refill gives up is hung
    /// and the work goes on to the next. None when every thread is hung.
    fn refilled_thread(&mut self, m: &mut Machine) -> Option<usize> {
        loop {
            let t = self.pick_thread()?;
            if self.run_alloc_arg(m, t).is_some_and(|r| !r.gave_up) {
                return Some(t);
            }
        }
    }

    /// `svc_recv()` on the next free thread: refill its `rq_pages` (a thread whose refill gives
    /// up is hung, and the request goes to the next), then receive, process and reply.
    pub fn serve(&mut self, m: &mut Machine, rpc: &Rpc) -> Served {
        let Some(t) = self.refilled_thread(m) else {
            self.unserved += 1;
            return Served::Unserved;
        };
        self.served += 1;
        let payload_pages = |kib: u32| kib.div_ceil(PAGE_SIZE >> 10);
        match *rpc {
            Rpc::Wakeup => {}
            Rpc::Getattr => {
                self.receive(t, 1);
                self.release(m, t);
            }
            Rpc::Read { kib } => {
                self.receive(t, 1);
                self.read_reply(m, t, payload_pages(kib));
                self.release(m, t);
            }
            Rpc::Write { kib, split } => {
                let request = (1 + payload_pages(kib)).min(self.pages - 1);
                if split {
                    // The first half of the record arrives: park it and go back to svc_recv.
                    let first = (request / 2).max(1);
                    self.svc_tcp_save_pages(m, t, first);
                    return self.serve_continuation(m, request);
                }
                self.receive(t, request);
                self.release(m, t);
            }
        }
        Served::By(t)
    }

    /// The rest of a split record reaches the next thread, which takes the parked pages over.
    fn serve_continuation(&mut self, m: &mut Machine, request: u32) -> Served {
        let Some(t) = self.refilled_thread(m) else {
            self.unserved += 1;
            return Served::Unserved;
        };
        self.svc_tcp_restore_pages(m, t);
        self.receive(t, request);
        self.release(m, t);
        Served::By(t)
    }

    /// A request of `pages` pages lands in `rq_pages[0..pages)`; the reply starts after it:
    /// `rq_respages` there and `rq_next_page` one further (the reply's head page).
    fn receive(&mut self, t: usize, pages: u32) {
        let th = &mut self.threads[t];
        th.rq_respages = pages.min(self.pages - 1) as usize;
        th.rq_next_page = th.rq_respages + 1;
    }

    /// The data pages of a READ reply: copied into the next pages of `rq_pages` (readv), or, with
    /// splice, page-cache pages swapped in by `svc_rqst_replace_page()`, which parks each page it
    /// displaces in `rq_pvec` and releases the batch when it is full.
    fn read_reply(&mut self, m: &mut Machine, t: usize, data_pages: u32) {
        let room = self.pages as usize - self.threads[t].rq_next_page;
        let n = (data_pages as usize).min(room);
        let Some(pvec) = self.threads[t].rq_pvec else {
            self.threads[t].rq_next_page += n;
            return;
        };
        let rq = self.threads[t].rq_pages;
        let gfp = Gfp::composite("GFP_HIGHUSER_MOVABLE", m.profile).expect("every era has it");
        m.current_cpu = self.threads[t].cpu;
        for _ in 0..n {
            // The file is read into the page cache first (a cold cache); a short read ends here.
            let Some(cache_pfn) = crate::sim::alloc_into_slot(m, PAGE_CACHE, None, gfp, 0) else { break };
            let at = self.threads[t].rq_next_page;
            let old = slot(m, rq, at);
            if old != NIL {
                if m.held(pvec) as usize == PAGEVEC_SIZE {
                    release_pages(m, pvec);
                }
                m.move_held(old, (rq, Some(at)), (pvec, None));
            }
            self.threads[t].spliced.push((at, cache_pfn));
            self.threads[t].rq_next_page += 1;
        }
    }

    /// `svc_xprt_release()`: release the batched pages (`pagevec_release`), then
    /// `svc_free_res_pages()`: walk `rq_next_page` back to `rq_respages`, putting each page and
    /// NULLing its slot. A spliced page-cache page only loses sunrpc's reference. The reply's
    /// pages are freed where the transmit completes ([`SvcConfig::tx_completion_cpu`]); the
    /// batch was never sent and goes on the thread's CPU.
    fn release(&mut self, m: &mut Machine, t: usize) {
        let th = &mut self.threads[t];
        m.current_cpu = th.cpu;
        if let Some(pvec) = th.rq_pvec {
            release_pages(m, pvec);
        }
        m.current_cpu = self.config.tx_completion_cpu.unwrap_or(th.cpu);
        while th.rq_next_page > th.rq_respages {
            th.rq_next_page -= 1;
            let at = th.rq_next_page;
            let pfn = slot(m, th.rq_pages, at);
            if pfn != NIL {
                m.free_held(th.rq_pages, pfn, 0, Some(at)).expect("rq_pages holds its pages");
            }
        }
        th.spliced.clear();
    }

    /// `svc_tcp_save_pages()`: the pages of a partial record move to the socket, and their
    /// `rq_pages` slots become NULL: leading holes.
    fn svc_tcp_save_pages(&mut self, m: &mut Machine, t: usize, npages: u32) {
        let rq = self.threads[t].rq_pages;
        for i in 0..npages as usize {
            let pfn = slot(m, rq, i);
            if pfn != NIL {
                m.move_held(pfn, (rq, Some(i)), (self.socket, Some(i)));
            }
        }
        self.sk_pages = npages;
    }

    /// `svc_tcp_restore_pages()`: the parked pages go back into the front of this thread's
    /// `rq_pages`, and the pages they replace are put.
    fn svc_tcp_restore_pages(&mut self, m: &mut Machine, t: usize) {
        let rq = self.threads[t].rq_pages;
        m.current_cpu = self.threads[t].cpu;
        for i in 0..self.sk_pages as usize {
            let old = slot(m, rq, i);
            if old != NIL {
                m.free_held(rq, old, 0, Some(i)).expect("rq_pages holds its pages");
            }
            let parked = slot(m, self.socket, i);
            if parked != NIL {
                m.move_held(parked, (self.socket, Some(i)), (rq, Some(i)));
            }
        }
        self.sk_pages = 0;
    }

    /// Threads stopped as hung.
    pub fn hung_threads(&self) -> u32 {
        self.threads.iter().filter(|t| t.hung).count() as u32
    }
}

/// `release_pages()` of a batch: put every page of the holder's list.
fn release_pages(m: &mut Machine, holder: u32) {
    let pages: Vec<Pfn> = match &m.holders[holder as usize].slots {
        Slots::List(l) => l.iter().collect(),
        Slots::Array(_) => Vec::new(),
    };
    for pfn in pages {
        m.free_held(holder, pfn, 0, None).expect("the batch holds its pages");
    }
}

// ---------------------------------------------------------------------------------------------
// The seed's concern: how many pages does each bulk call ask for?

/// Calls whose request size (holes asked for) falls in `lo..=hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Bucket {
    pub lo: u32,
    pub hi: u32,
    pub calls: u64,
    /// Of those, calls that ended in the single-page allocator.
    pub single_page: u64,
}

/// A histogram of allocator calls by the number of pages each was asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestHistogram {
    pub buckets: Vec<Bucket>,
    pub calls: u64,
    /// Calls that went to the single-page path (`alloc_page`, or a bulk call handed to
    /// `__alloc_pages`).
    pub single_page: u64,
    /// Calls whose path is unknown because the trace was off.
    pub unclassified: u64,
}

/// Bucket bounds: 0, 1, 2, 3-4, 5-8, ... 129-256, 257 and more.
const BUCKET_BOUNDS: &[(u32, u32)] = &[
    (0, 0),
    (1, 1),
    (2, 2),
    (3, 4),
    (5, 8),
    (9, 16),
    (17, 32),
    (33, 64),
    (65, 128),
    (129, 256),
    (257, u32::MAX),
];

impl RequestHistogram {
    /// The histogram of every allocator call of the refills.
    pub fn from_refills(refills: &[RefillRecord]) -> RequestHistogram {
        let mut h = RequestHistogram {
            buckets: BUCKET_BOUNDS
                .iter()
                .map(|&(lo, hi)| Bucket { lo, hi, calls: 0, single_page: 0 })
                .collect(),
            calls: 0,
            single_page: 0,
            unclassified: 0,
        };
        for call in refills.iter().flat_map(|r| &r.alloc_calls) {
            let single = match call.path {
                None => {
                    h.unclassified += 1;
                    false
                }
                Some(path) => matches!(path, AllocPath::AllocPage | AllocPath::SinglePage { .. }),
            };
            let b = h
                .buckets
                .iter_mut()
                .find(|b| (b.lo..=b.hi).contains(&call.holes))
                .expect("the buckets cover every u32");
            b.calls += 1;
            h.calls += 1;
            if single {
                b.single_page += 1;
                h.single_page += 1;
            }
        }
        h
    }

    /// The histogram as text: one row per non-empty bucket.
    pub fn to_text(&self, indent: &str) -> String {
        let mut out = format!("{indent}{:<10} {:>8} {:>12}\n", "holes", "calls", "single-page");
        for b in self.buckets.iter().filter(|b| b.calls > 0) {
            let label = crate::report::bucket_label(b.lo, b.hi);
            out += &format!("{indent}{label:<10} {:>8} {:>12}\n", b.calls, b.single_page);
        }
        out += &format!("{indent}{:<10} {:>8} {:>12}\n", "all", self.calls, self.single_page);
        if self.unclassified > 0 {
            out += &format!(
                "{indent}({} calls made with the trace off: their path is unknown)\n",
                self.unclassified
            );
        }
        out
    }
}

/// One profile's answer: the same workload with the profile's `svc_alloc_arg`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileHistogram {
    pub profile: &'static str,
    pub form: SvcAllocArg,
    pub refills: u64,
    pub sleeps: u64,
    pub slept_ms: u64,
    pub hung_threads: u32,
    pub unserved: u64,
    pub histogram: RequestHistogram,
}

/// Run `rpcs` on a freshly booted machine of `machine` for every profile, each with its own
/// `svc_alloc_arg` (`svc`'s form is ignored), and histogram the bulk request sizes. The trace
/// counts: each allocator call is classified as it returns, so memory stays flat.
pub fn request_histograms(
    machine: &MachineConfig,
    svc: SvcConfig,
    rpcs: &[Rpc],
) -> Result<Vec<ProfileHistogram>, ConfigError> {
    let mut out = Vec::new();
    for profile in PROFILES {
        let mut m = Machine::new(machine, profile, TraceMode::Count)?;
        let mut serv = SvcServ::new(&mut m, SvcConfig { form: profile.svc_alloc_arg, ..svc })?;
        let mut refills = Vec::new();
        for rpc in rpcs {
            serv.serve(&mut m, rpc);
            refills.append(&mut serv.refills);
        }
        out.push(ProfileHistogram {
            profile: profile.id,
            form: profile.svc_alloc_arg,
            refills: refills.len() as u64,
            sleeps: refills.iter().map(|r| u64::from(r.sleeps)).sum(),
            slept_ms: refills.iter().map(|r| r.slept_ms).sum(),
            hung_threads: serv.hung_threads(),
            unserved: serv.unserved,
            histogram: RequestHistogram::from_refills(&refills),
        });
    }
    Ok(out)
}
