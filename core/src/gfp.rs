//! GFP flags (`include/linux/gfp_types.h`) and what the page allocator derives from them: the
//! highest zone (`gfp_zone`), the migratetype (`gfp_migratetype`), the zonelist (`gfp_zonelist`),
//! the slow path's alloc flags (`gfp_to_alloc_flags`, `__gfp_pfmemalloc_flags`) and how far those
//! let a request dip below the min watermark. [`explain`] gathers all of it, with reasons, for the
//! GFP editor and the CLI.
//!
//! pageflow keeps one bit layout for every era: the `___GFP_*` values of 6.1. Eras differ in which
//! names exist and in the rules, not in the values. 6.3 removed `__GFP_ATOMIC` (0x200): a
//! [`Profile`] without it ([`Profile::has_gfp_atomic`]) refuses that bit when parsing or checking,
//! and `GFP_ATOMIC` loses it. 6.3 also renamed `ALLOC_HARDER`/`ALLOC_HIGH` to
//! `ALLOC_NON_BLOCK`/`ALLOC_MIN_RESERVE` (same values) and changed when they are set; the rules of
//! both eras are here, chosen by [`Profile::reserve_flags`].

use std::fmt;

use bitflags::{bitflags, Flags};
use serde::{Deserialize, Serialize};

use crate::mem::{MigrateType, ZoneType};
use crate::profile::{Profile, ReserveFlags};
use crate::why::Why;

bitflags! {
    /// `gfp_t`: how an allocation may be satisfied. Values are 6.1's `___GFP_*` for every era.
    ///
    /// The KASAN/MTE bits (`ZEROTAGS` and the `SKIP_*` bits) and `NOLOCKDEP` only mean something
    /// on arm64 with hardware tags or with lockdep; an x86-64 kernel defines the `SKIP_*` bits and
    /// `NOLOCKDEP` as 0. pageflow accepts them in every era, prints them by name, and ignores them.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct Gfp: u32 {
        /// Only `ZONE_DMA` (the first 16 MiB on x86-64).
        const DMA = 0x01;
        /// May use highmem. A 64-bit kernel has no `ZONE_HIGHMEM`: alone it selects
        /// `ZONE_NORMAL`, with `MOVABLE` it selects `ZONE_MOVABLE`.
        const HIGHMEM = 0x02;
        /// `ZONE_DMA32` and below (the first 4 GiB).
        const DMA32 = 0x04;
        /// The page can be migrated: `MIGRATE_MOVABLE`, and `ZONE_MOVABLE` together with `HIGHMEM`.
        const MOVABLE = 0x08;
        /// Slab memory a shrinker can free: `MIGRATE_RECLAIMABLE`.
        const RECLAIMABLE = 0x10;
        /// High priority: may use half of the min reserve (`ALLOC_HIGH` / `ALLOC_MIN_RESERVE`).
        const HIGH = 0x20;
        /// Reclaim may start physical I/O.
        const IO = 0x40;
        /// Reclaim may call into filesystems.
        const FS = 0x80;
        /// Hand out zeroed pages.
        const ZERO = 0x100;
        /// ≤6.2 only: the caller cannot sleep and must not fail (`ALLOC_HARDER`). Removed in 6.3,
        /// where the absence of `DIRECT_RECLAIM` says the same.
        const ATOMIC = 0x200;
        /// May enter direct reclaim and compaction, so may sleep.
        const DIRECT_RECLAIM = 0x400;
        /// Wake kswapd when a zone is below the low watermark.
        const KSWAPD_RECLAIM = 0x800;
        /// The page will be dirtied: spread such pages for dirty balancing.
        const WRITE = 0x1000;
        /// Do not report a failure.
        const NOWARN = 0x2000;
        /// Retry reclaim hard but fail eventually, without the OOM killer.
        const RETRY_MAYFAIL = 0x4000;
        /// Never fail: retry for ever.
        const NOFAIL = 0x8000;
        /// One light attempt at reclaim and compaction, then fail, without the OOM killer.
        const NORETRY = 0x10000;
        /// May use all of the reserves (`ALLOC_NO_WATERMARKS`).
        const MEMALLOC = 0x20000;
        /// Set up compound page metadata.
        const COMP = 0x40000;
        /// Never use the emergency reserves; overrides `MEMALLOC` and `PF_MEMALLOC`.
        const NOMEMALLOC = 0x80000;
        /// Keep to the current task's cpuset nodes.
        const HARDWALL = 0x100000;
        /// Only the requested node: the no-fallback zonelist.
        const THISNODE = 0x200000;
        /// Charge the page to the memory cgroup (kmemcg).
        const ACCOUNT = 0x400000;
        /// arm64 MTE: with `ZERO`, clear the memory tags as well.
        const ZEROTAGS = 0x800000;
        /// Hardware-tag KASAN: skip zeroing.
        const SKIP_ZERO = 0x1000000;
        /// Hardware-tag KASAN: skip unpoisoning on allocation.
        const SKIP_KASAN_UNPOISON = 0x2000000;
        /// Hardware-tag KASAN: skip poisoning on free.
        const SKIP_KASAN_POISON = 0x4000000;
        /// Lockdep: do not track this allocation's reclaim context.
        const NOLOCKDEP = 0x8000000;
        /// `__GFP_RECLAIM`: both ways of reclaiming.
        const RECLAIM = Self::DIRECT_RECLAIM.bits() | Self::KSWAPD_RECLAIM.bits();
    }
}

impl Gfp {
    /// `GFP_ZONEMASK`: the zone modifiers that [`gfp_zone`] reads.
    pub const ZONEMASK: Gfp = Gfp::DMA.union(Gfp::HIGHMEM).union(Gfp::DMA32).union(Gfp::MOVABLE);
    /// `GFP_KERNEL`.
    pub const GFP_KERNEL: Gfp = Gfp::RECLAIM.union(Gfp::IO).union(Gfp::FS);
    /// `GFP_KERNEL_ACCOUNT`.
    pub const GFP_KERNEL_ACCOUNT: Gfp = Gfp::GFP_KERNEL.union(Gfp::ACCOUNT);
    /// `GFP_NOWAIT`. Later kernels (6.12 has it) add `__GFP_NOWARN`; no modelled era does.
    pub const GFP_NOWAIT: Gfp = Gfp::KSWAPD_RECLAIM;
    /// `GFP_NOIO`.
    pub const GFP_NOIO: Gfp = Gfp::RECLAIM;
    /// `GFP_NOFS`.
    pub const GFP_NOFS: Gfp = Gfp::RECLAIM.union(Gfp::IO);
    /// `GFP_USER`.
    pub const GFP_USER: Gfp = Gfp::GFP_KERNEL.union(Gfp::HARDWALL);
    /// `GFP_DMA`.
    pub const GFP_DMA: Gfp = Gfp::DMA;
    /// `GFP_DMA32`.
    pub const GFP_DMA32: Gfp = Gfp::DMA32;
    /// `GFP_HIGHUSER`.
    pub const GFP_HIGHUSER: Gfp = Gfp::GFP_USER.union(Gfp::HIGHMEM);
    /// `GFP_HIGHUSER_MOVABLE`. 5.14+ also OR in the `SKIP_KASAN` bits, which are 0 on x86-64, so
    /// the value is the one x86-64 traces show (0x100cca).
    pub const GFP_HIGHUSER_MOVABLE: Gfp = Gfp::GFP_HIGHUSER.union(Gfp::MOVABLE);
    /// `GFP_TRANSHUGE_LIGHT`: a THP fault that neither reclaims nor wakes kswapd.
    pub const GFP_TRANSHUGE_LIGHT: Gfp = Gfp::GFP_HIGHUSER_MOVABLE
        .union(Gfp::COMP)
        .union(Gfp::NOMEMALLOC)
        .union(Gfp::NOWARN)
        .difference(Gfp::RECLAIM);
    /// `GFP_TRANSHUGE`.
    pub const GFP_TRANSHUGE: Gfp = Gfp::GFP_TRANSHUGE_LIGHT.union(Gfp::DIRECT_RECLAIM);

    /// `GFP_ATOMIC`: `__GFP_HIGH|__GFP_KSWAPD_RECLAIM`, plus `__GFP_ATOMIC` in eras that have it.
    pub fn gfp_atomic(profile: &Profile) -> Gfp {
        let atomic = if profile.has_gfp_atomic() { Gfp::ATOMIC } else { Gfp::empty() };
        Gfp::HIGH | Gfp::KSWAPD_RECLAIM | atomic
    }

    /// The value of the `GFP_*` composite `name` (ASCII case ignored) in `profile`'s era.
    pub fn composite(name: &str, profile: &Profile) -> Option<Gfp> {
        COMPOSITES.iter().find(|c| c.name.eq_ignore_ascii_case(name)).map(|c| c.value(profile))
    }

    /// The value of a `GFP_*` composite or a `__GFP_*` name (ASCII case ignored) in `profile`'s
    /// era; `__GFP_ATOMIC` does not exist where [`Profile::has_gfp_atomic`] is false.
    pub fn named(name: &str, profile: &Profile) -> Option<Gfp> {
        if let Some(value) = Gfp::composite(name, profile) {
            return Some(value);
        }
        let bit = strip_prefix_ignore_case(name, "__GFP_")?;
        Gfp::FLAGS
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(bit))
            .map(|f| *f.value())
            .filter(|value| *value != Gfp::ATOMIC || profile.has_gfp_atomic())
    }

    /// Refuses values that do not exist in `profile`'s era: bits pageflow does not know, and
    /// `__GFP_ATOMIC` after 6.2. Scenario loaders call this on values they read.
    pub fn check(self, profile: &Profile) -> Result<Gfp, GfpError> {
        let unknown = self.bits() & !Gfp::all().bits();
        if unknown != 0 {
            return Err(GfpError::UnknownBits(unknown));
        }
        if self.contains(Gfp::ATOMIC) && !profile.has_gfp_atomic() {
            return Err(GfpError::AtomicNotInProfile { profile: profile.id });
        }
        Ok(self)
    }

    /// Parses a C-like GFP expression: `GFP_*` composites, `__GFP_*` bits and numbers (`0xcc0`
    /// or decimal) combined with `|`, `&`, `~` and parentheses, with C's precedence (`~` binds
    /// tighter than `&`, which binds tighter than `|`). Names ignore ASCII case; whitespace is
    /// optional. Bare bit names without `__GFP_` are refused so `ATOMIC` cannot be mistaken for
    /// `GFP_ATOMIC`. The result is checked against the era ([`Gfp::check`]).
    pub fn parse(text: &str, profile: &Profile) -> Result<Gfp, GfpParseError> {
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Err(GfpParseError::Empty);
        }
        let mut parser = Parser { tokens, next: 0, depth: 0, profile };
        let bits = parser.or_expr()?;
        if let Some(token) = parser.tokens.get(parser.next) {
            return Err(GfpParseError::Expected {
                expected: "`|`, `&` or the end of the expression",
                found: Some(token.text.to_owned()),
                column: token.column,
            });
        }
        Gfp::from_bits_retain(bits).check(profile).map_err(GfpParseError::Invalid)
    }

    /// Prints the flags like the kernel's `%pGg` (`format_flags` over `show_gfp_flags`'s table):
    /// names are tried in the kernel's order, composites with most bits first, each taking the
    /// bits it matches; what no name covers follows in hex. 0 prints as `0`. Unlike the kernel,
    /// the KASAN bits and `__GFP_NOLOCKDEP` are always named, so the output always parses back.
    pub fn format(self, profile: &Profile) -> String {
        if self.is_empty() {
            return "0".to_owned();
        }
        let mut rest = self;
        let mut parts = Vec::new();
        for name in SHOW_GFP_FLAGS {
            if rest.is_empty() {
                break;
            }
            if let Some(mask) = Gfp::named(name, profile).filter(|mask| rest.contains(*mask)) {
                parts.push((*name).to_owned());
                rest.remove(mask);
            }
        }
        if !rest.is_empty() {
            parts.push(format!("{:#x}", rest.bits()));
        }
        parts.join("|")
    }
}

/// `name` without `prefix`, comparing the prefix without ASCII case.
fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &name[prefix.len()..])
}

/// The `__GFP_*` names of the single bits set in `gfp`, lowest first, `|`-joined.
fn bit_names(gfp: Gfp) -> String {
    let mut names: Vec<String> = Gfp::FLAGS
        .iter()
        .filter(|f| f.value().bits().is_power_of_two() && gfp.contains(*f.value()))
        .map(|f| format!("__GFP_{}", f.name()))
        .collect();
    let unknown = gfp.bits() & !Gfp::all().bits();
    if unknown != 0 {
        names.push(format!("{unknown:#x}"));
    }
    names.join("|")
}

/// The order in which `show_gfp_flags` (`include/trace/events/mmflags.h`, 6.1) tries names. The
/// last four are named only with CONFIG_KASAN_HW_TAGS or CONFIG_LOCKDEP in the kernel.
const SHOW_GFP_FLAGS: &[&str] = &[
    "GFP_TRANSHUGE",
    "GFP_TRANSHUGE_LIGHT",
    "GFP_HIGHUSER_MOVABLE",
    "GFP_HIGHUSER",
    "GFP_USER",
    "GFP_KERNEL_ACCOUNT",
    "GFP_KERNEL",
    "GFP_NOFS",
    "GFP_ATOMIC",
    "GFP_NOIO",
    "GFP_NOWAIT",
    "GFP_DMA",
    "__GFP_HIGHMEM",
    "GFP_DMA32",
    "__GFP_HIGH",
    "__GFP_ATOMIC",
    "__GFP_IO",
    "__GFP_FS",
    "__GFP_NOWARN",
    "__GFP_RETRY_MAYFAIL",
    "__GFP_NOFAIL",
    "__GFP_NORETRY",
    "__GFP_COMP",
    "__GFP_ZERO",
    "__GFP_NOMEMALLOC",
    "__GFP_MEMALLOC",
    "__GFP_HARDWALL",
    "__GFP_THISNODE",
    "__GFP_RECLAIMABLE",
    "__GFP_MOVABLE",
    "__GFP_ACCOUNT",
    "__GFP_WRITE",
    "__GFP_RECLAIM",
    "__GFP_DIRECT_RECLAIM",
    "__GFP_KSWAPD_RECLAIM",
    "__GFP_ZEROTAGS",
    "__GFP_SKIP_ZERO",
    "__GFP_SKIP_KASAN_POISON",
    "__GFP_SKIP_KASAN_UNPOISON",
    "__GFP_NOLOCKDEP",
];

/// One `GFP_*` composite of `gfp_types.h`, as a UI lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Composite {
    pub name: &'static str,
    pub value: Gfp,
    /// One line for a student.
    pub meaning: &'static str,
}

/// A composite as defined once for all eras.
struct CompositeDef {
    name: &'static str,
    value: Gfp,
    /// Gains `__GFP_ATOMIC` in eras that have it (`GFP_ATOMIC` only).
    era_atomic: bool,
    meaning: &'static str,
}

impl CompositeDef {
    fn value(&self, profile: &Profile) -> Gfp {
        if self.era_atomic {
            Gfp::gfp_atomic(profile)
        } else {
            self.value
        }
    }
}

const fn def(name: &'static str, value: Gfp, meaning: &'static str) -> CompositeDef {
    CompositeDef { name, value, era_atomic: false, meaning }
}

/// Every composite 6.1's `gfp_types.h` defines, in its order.
const COMPOSITES: &[CompositeDef] = &[
    CompositeDef {
        name: "GFP_ATOMIC",
        value: Gfp::HIGH.union(Gfp::KSWAPD_RECLAIM),
        era_atomic: true,
        meaning: "cannot sleep and should not fail: interrupt handlers, spinlock holders; uses reserves",
    },
    def(
        "GFP_KERNEL",
        Gfp::GFP_KERNEL,
        "ordinary kernel allocation: may sleep, reclaim, do I/O and call filesystems",
    ),
    def("GFP_KERNEL_ACCOUNT", Gfp::GFP_KERNEL_ACCOUNT, "GFP_KERNEL charged to the caller's memory cgroup"),
    def("GFP_NOWAIT", Gfp::GFP_NOWAIT, "cannot sleep, no reserves: fails fast, only wakes kswapd"),
    def("GFP_NOIO", Gfp::GFP_NOIO, "may reclaim, but without starting I/O (block layer callers)"),
    def("GFP_NOFS", Gfp::GFP_NOFS, "may reclaim and do I/O, but not call into filesystems"),
    def("GFP_USER", Gfp::GFP_USER, "memory for user space or its kernel structures, kept to the cpuset"),
    def("GFP_DMA", Gfp::GFP_DMA, "only ZONE_DMA, for devices limited to 24-bit addresses"),
    def("GFP_DMA32", Gfp::GFP_DMA32, "ZONE_DMA32 and below, for devices limited to 32-bit addresses"),
    def("GFP_HIGHUSER", Gfp::GFP_HIGHUSER, "user pages that need no kernel mapping (highmem allowed)"),
    def(
        "GFP_HIGHUSER_MOVABLE",
        Gfp::GFP_HIGHUSER_MOVABLE,
        "user pages that can be migrated: ZONE_MOVABLE allowed",
    ),
    def(
        "GFP_TRANSHUGE_LIGHT",
        Gfp::GFP_TRANSHUGE_LIGHT,
        "a transparent huge page that is not worth reclaiming for",
    ),
    def("GFP_TRANSHUGE", Gfp::GFP_TRANSHUGE, "a transparent huge page worth direct reclaim and compaction"),
];

/// Every `GFP_*` composite with its value in `profile`'s era, in `gfp_types.h` order.
pub fn composites(profile: &Profile) -> Vec<Composite> {
    COMPOSITES
        .iter()
        .map(|c| Composite { name: c.name, value: c.value(profile), meaning: c.meaning })
        .collect()
}

/// Why a GFP mask cannot be used as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GfpError {
    /// `gfp_zone`: the zone modifiers (the [`Gfp::ZONEMASK`] bits that are set) are in
    /// `GFP_ZONE_BAD`. The kernel hits `VM_BUG_ON` with CONFIG_DEBUG_VM.
    BadZone(Gfp),
    /// `gfp_migratetype`: `__GFP_MOVABLE|__GFP_RECLAIMABLE` would index `MIGRATE_HIGHATOMIC`.
    MovableAndReclaimable,
    /// `__GFP_ATOMIC` in an era that removed it.
    AtomicNotInProfile { profile: &'static str },
    /// Bits pageflow does not know.
    UnknownBits(u32),
}

impl fmt::Display for GfpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GfpError::BadZone(bits) => write!(
                f,
                "{} is not a valid zone modifier combination (GFP_ZONE_BAD): \
                 at most one of __GFP_DMA, __GFP_DMA32 and __GFP_HIGHMEM may be set",
                bit_names(*bits)
            ),
            GfpError::MovableAndReclaimable => f.write_str(
                "__GFP_MOVABLE|__GFP_RECLAIMABLE is not a migratetype: gfp_migratetype would \
                 return MIGRATE_HIGHATOMIC, past the pcp types (the kernel warns)",
            ),
            GfpError::AtomicNotInProfile { profile } => write!(
                f,
                "__GFP_ATOMIC does not exist in profile {profile}: 6.3 removed it; a caller that \
                 cannot sleep (no __GFP_DIRECT_RECLAIM) gets ALLOC_NON_BLOCK instead"
            ),
            GfpError::UnknownBits(bits) => write!(
                f,
                "{bits:#x} is not a GFP flag: the known bits are {:#x} (__GFP_DMA to __GFP_NOLOCKDEP)",
                Gfp::all().bits()
            ),
        }
    }
}

impl std::error::Error for GfpError {}

/// Why a GFP expression does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GfpParseError {
    /// Nothing but whitespace.
    Empty,
    /// A character that is not part of the expression language. Columns count characters from 1.
    UnexpectedChar { ch: char, column: usize },
    /// A word that names no composite and no bit; `suggestion` is the nearest known name.
    UnknownFlag { token: String, suggestion: Option<String> },
    /// A number that is not a 32-bit hex or decimal number.
    BadNumber { token: String },
    /// The grammar wanted `expected`; `found` is `None` at the end of the text.
    Expected { expected: &'static str, found: Option<String>, column: usize },
    /// Parentheses or `~` nested deeper than [`MAX_NESTING`].
    TooDeep { column: usize },
    /// The expression is well formed but its value does not exist in the era.
    Invalid(GfpError),
}

/// How deeply `(` and `~` may nest in a GFP expression; bounds the parser's recursion.
pub const MAX_NESTING: usize = 32;

const ACCEPTED: &str = "expected a GFP_* composite, a __GFP_* bit or a hex number";

impl fmt::Display for GfpParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GfpParseError::Empty => write!(f, "empty GFP expression: {ACCEPTED} such as 0xcc0"),
            GfpParseError::UnexpectedChar { ch, column } => write!(
                f,
                "unexpected character `{ch}` at column {column}: GFP expressions are made of flag \
                 names, numbers, `|`, `&`, `~` and parentheses"
            ),
            GfpParseError::UnknownFlag { token, suggestion } => {
                write!(f, "unknown GFP flag `{token}`: {ACCEPTED}")?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean `{s}`?)"),
                    None => Ok(()),
                }
            }
            GfpParseError::BadNumber { token } => write!(
                f,
                "`{token}` is not a 32-bit number: write hex as 0x followed by hex digits (e.g. \
                 0xcc0) or decimal digits only"
            ),
            GfpParseError::Expected { expected, found: Some(found), column } => {
                write!(f, "expected {expected} at column {column}, found `{found}`")
            }
            GfpParseError::Expected { expected, found: None, .. } => {
                write!(f, "expected {expected}, but the expression ends")
            }
            GfpParseError::TooDeep { column } => {
                write!(f, "parentheses and `~` nest more than {MAX_NESTING} deep at column {column}")
            }
            GfpParseError::Invalid(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for GfpParseError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    Name,
    Number,
    Or,
    And,
    Not,
    Open,
    Close,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: TokenKind,
    text: &'a str,
    column: usize,
}

/// Splits a GFP expression into tokens; words are runs of ASCII letters, digits and `_`.
fn tokenize(text: &str) -> Result<Vec<Token<'_>>, GfpParseError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().enumerate().peekable();
    while let Some((column0, (start, ch))) = chars.next() {
        let column = column0 + 1;
        let kind = match ch {
            c if c.is_whitespace() => continue,
            '|' => TokenKind::Or,
            '&' => TokenKind::And,
            '~' => TokenKind::Not,
            '(' => TokenKind::Open,
            ')' => TokenKind::Close,
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut end = start + 1;
                while let Some(&(_, (at, c))) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_') {
                        break;
                    }
                    end = at + 1;
                    chars.next();
                }
                let kind = if ch.is_ascii_digit() { TokenKind::Number } else { TokenKind::Name };
                tokens.push(Token { kind, text: &text[start..end], column });
                continue;
            }
            ch => return Err(GfpParseError::UnexpectedChar { ch, column }),
        };
        tokens.push(Token { kind, text: &text[start..start + ch.len_utf8()], column });
    }
    Ok(tokens)
}

/// Recursive descent over the tokens: `or := and ('|' and)*`, `and := unary ('&' unary)*`,
/// `unary := '~' unary | '(' or ')' | name | number`.
struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    next: usize,
    depth: usize,
    profile: &'a Profile,
}

const OPERAND: &str = "a flag name, a number, `~` or `(`";

impl Parser<'_> {
    fn eat(&mut self, kind: TokenKind) -> bool {
        let hit = self.tokens.get(self.next).is_some_and(|t| t.kind == kind);
        self.next += usize::from(hit);
        hit
    }

    fn or_expr(&mut self) -> Result<u32, GfpParseError> {
        let mut value = self.and_expr()?;
        while self.eat(TokenKind::Or) {
            value |= self.and_expr()?;
        }
        Ok(value)
    }

    fn and_expr(&mut self) -> Result<u32, GfpParseError> {
        let mut value = self.unary()?;
        while self.eat(TokenKind::And) {
            value &= self.unary()?;
        }
        Ok(value)
    }

    fn unary(&mut self) -> Result<u32, GfpParseError> {
        let Some(token) = self.tokens.get(self.next).copied() else {
            return Err(GfpParseError::Expected { expected: OPERAND, found: None, column: 0 });
        };
        self.next += 1;
        match token.kind {
            TokenKind::Not | TokenKind::Open => {
                if self.depth == MAX_NESTING {
                    return Err(GfpParseError::TooDeep { column: token.column });
                }
                self.depth += 1;
                let value = if token.kind == TokenKind::Not { !self.unary()? } else { self.group()? };
                self.depth -= 1;
                Ok(value)
            }
            TokenKind::Name => lookup(token.text, self.profile).map(|g| g.bits()),
            TokenKind::Number => number(token.text),
            TokenKind::Or | TokenKind::And | TokenKind::Close => Err(GfpParseError::Expected {
                expected: OPERAND,
                found: Some(token.text.to_owned()),
                column: token.column,
            }),
        }
    }

    /// The inside of `( ... )`, after the `(`.
    fn group(&mut self) -> Result<u32, GfpParseError> {
        let value = self.or_expr()?;
        if self.eat(TokenKind::Close) {
            return Ok(value);
        }
        let found = self.tokens.get(self.next);
        Err(GfpParseError::Expected {
            expected: "`)`",
            found: found.map(|t| t.text.to_owned()),
            column: found.map_or(0, |t| t.column),
        })
    }
}

/// A name in an expression: a composite or a `__GFP_*` bit of the era.
fn lookup(name: &str, profile: &Profile) -> Result<Gfp, GfpParseError> {
    if let Some(value) = Gfp::named(name, profile) {
        return Ok(value);
    }
    if name.eq_ignore_ascii_case("__GFP_ATOMIC") {
        return Err(GfpParseError::Invalid(GfpError::AtomicNotInProfile { profile: profile.id }));
    }
    Err(GfpParseError::UnknownFlag { token: name.to_owned(), suggestion: suggest(name, profile) })
}

/// The known name nearest to a misspelt one: a bare bit name gains its `__GFP_` prefix, anything
/// else is matched by edit distance (at most 2, or a quarter of the word).
fn suggest(name: &str, profile: &Profile) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    let known: Vec<String> = COMPOSITES
        .iter()
        .map(|c| c.name.to_owned())
        .chain(Gfp::FLAGS.iter().map(|f| format!("__GFP_{}", f.name())))
        .filter(|n| Gfp::named(n, profile).is_some())
        .collect();
    let prefixed = format!("__GFP_{}", upper.trim_start_matches('_').trim_start_matches("GFP_"));
    if known.contains(&prefixed) {
        return Some(prefixed);
    }
    let limit = (upper.len() / 4).max(2);
    known
        .into_iter()
        .map(|k| (edit_distance(&upper, &k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over bytes (names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A number token: `0x` hex or decimal, 32 bits.
fn number(text: &str) -> Result<u32, GfpParseError> {
    let parsed = match strip_prefix_ignore_case(text, "0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse::<u32>(),
    };
    parsed.map_err(|_| GfpParseError::BadNumber { token: text.to_owned() })
}

/// `GFP_ZONE_TABLE` with `GFP_ZONE_BAD` folded in, for a 64-bit kernel without CONFIG_HIGHMEM:
/// indexed by `gfp & GFP_ZONEMASK`, `None` where the combination is bad.
const GFP_ZONE_TABLE: [Option<ZoneType>; 16] = {
    use ZoneType::{Dma, Dma32, Movable, Normal};
    [
        Some(Normal),  // none
        Some(Dma),     // DMA
        Some(Normal),  // HIGHMEM: no ZONE_HIGHMEM on 64-bit
        None,          // DMA|HIGHMEM
        Some(Dma32),   // DMA32
        None,          // DMA|DMA32
        None,          // HIGHMEM|DMA32
        None,          // DMA|HIGHMEM|DMA32
        Some(Normal),  // MOVABLE alone is a policy, not a zone
        Some(Dma),     // MOVABLE|DMA
        Some(Movable), // MOVABLE|HIGHMEM
        None,          // MOVABLE|HIGHMEM|DMA
        Some(Dma32),   // MOVABLE|DMA32
        None,          // MOVABLE|DMA32|DMA
        None,          // MOVABLE|DMA32|HIGHMEM
        None,          // all four
    ]
};

const _: () = assert!(Gfp::ZONEMASK.bits() == 0xf, "GFP_ZONE_TABLE is indexed by the low four bits");

/// `gfp_zone()`: the highest zone the request may use (`ac->highest_zoneidx`); the zonelist walk
/// falls back from there to lower zones. A `GFP_ZONE_BAD` combination is an error, not a panic.
pub fn gfp_zone(gfp: Gfp, why: &mut impl Why) -> Result<ZoneType, GfpError> {
    let modifiers = gfp & Gfp::ZONEMASK;
    let Some(zone) = GFP_ZONE_TABLE[modifiers.bits() as usize] else {
        let error = GfpError::BadZone(modifiers);
        why.why(|| error.to_string());
        return Err(error);
    };
    why.why(|| {
        let note = match modifiers.bits() {
            0x2 => " (a 64-bit kernel has no ZONE_HIGHMEM)",
            0x8 => " (__GFP_MOVABLE without __GFP_HIGHMEM does not reach ZONE_MOVABLE)",
            _ => "",
        };
        let label = if modifiers.is_empty() { "no zone modifier".to_owned() } else { bit_names(modifiers) };
        let zone_name = zone.name().to_ascii_uppercase();
        match zone {
            ZoneType::Dma => format!("{label}: only ZONE_DMA"),
            _ => format!("{label}: the highest zone is ZONE_{zone_name}{note}, falling back to lower zones"),
        }
    });
    Ok(zone)
}

/// `gfp_migratetype()`: `__GFP_MOVABLE` and `__GFP_RECLAIMABLE` pick the free lists. pageflow
/// never disables grouping by mobility (`page_group_by_mobility_disabled`).
pub fn gfp_migratetype(gfp: Gfp, why: &mut impl Why) -> Result<MigrateType, GfpError> {
    let mt = match (gfp.contains(Gfp::MOVABLE), gfp.contains(Gfp::RECLAIMABLE)) {
        (false, false) => MigrateType::Unmovable,
        (true, false) => MigrateType::Movable,
        (false, true) => MigrateType::Reclaimable,
        (true, true) => {
            why.why(|| GfpError::MovableAndReclaimable.to_string());
            return Err(GfpError::MovableAndReclaimable);
        }
    };
    why.why(|| match mt {
        MigrateType::Movable => "__GFP_MOVABLE: MIGRATE_MOVABLE free lists".to_owned(),
        MigrateType::Reclaimable => "__GFP_RECLAIMABLE: MIGRATE_RECLAIMABLE free lists".to_owned(),
        _ => "neither __GFP_MOVABLE nor __GFP_RECLAIMABLE: MIGRATE_UNMOVABLE free lists".to_owned(),
    });
    Ok(mt)
}

/// `gfpflags_allow_blocking()`: only `__GFP_DIRECT_RECLAIM` lets the allocator sleep.
pub fn gfpflags_allow_blocking(gfp: Gfp) -> bool {
    gfp.contains(Gfp::DIRECT_RECLAIM)
}

/// Which of a node's zonelists a request walks (`ZONELIST_FALLBACK` / `ZONELIST_NOFALLBACK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Zonelist {
    /// All nodes, nearest first.
    Fallback,
    /// The preferred node only.
    NoFallback,
}

/// `gfp_zonelist()`: `__GFP_THISNODE` keeps the request on its node (with CONFIG_NUMA).
pub fn gfp_zonelist(gfp: Gfp, why: &mut impl Why) -> Zonelist {
    if gfp.contains(Gfp::THISNODE) {
        why.why(|| "__GFP_THISNODE: only the preferred node's zones (ZONELIST_NOFALLBACK)".to_owned());
        Zonelist::NoFallback
    } else {
        Zonelist::Fallback
    }
}

/// A zone watermark (`enum zone_watermarks`), as indexed by the low bits of the alloc flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Wmark {
    Min = 0,
    Low = 1,
    High = 2,
    /// `WMARK_PROMO` (5.18+, memory tiering): no allocation path selects it.
    Promo = 3,
}

impl Wmark {
    /// The index into `zone->_watermark[]`.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Wmark::Min => "min",
            Wmark::Low => "low",
            Wmark::High => "high",
            Wmark::Promo => "promo",
        }
    }
}

bitflags! {
    /// The allocator's internal `ALLOC_*` flags (`mm/internal.h`, same values in 5.13, 6.1 and
    /// 6.6). The low two bits are a watermark index ([`AllocFlags::wmark`]), so `ALLOC_WMARK_MIN`
    /// is 0. The era decides the names of 0x10 and 0x20 ([`AllocFlags::format`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct AllocFlags: u32 {
        const WMARK_LOW = 0x01;
        const WMARK_HIGH = 0x02;
        /// Skip the watermark check entirely.
        const NO_WATERMARKS = 0x04;
        /// An OOM victim: a further half of min (CONFIG_MMU).
        const OOM = 0x08;
        /// ≤6.2 `ALLOC_HARDER`, 6.3+ `ALLOC_NON_BLOCK` ([`AllocFlags::NON_BLOCK`]).
        const HARDER = 0x10;
        /// ≤6.2 `ALLOC_HIGH`, 6.3+ `ALLOC_MIN_RESERVE` ([`AllocFlags::MIN_RESERVE`]).
        const HIGH = 0x20;
        /// Keep to the cpuset's nodes.
        const CPUSET = 0x40;
        /// May use CMA pageblocks. pageflow models no CMA (CONFIG_CMA off), so nothing sets it.
        const CMA = 0x80;
        /// Avoid mixing pageblock migratetypes (fast path, `alloc_flags_nofragment`).
        const NOFRAGMENT = 0x100;
        /// 6.3+: may take from, and reserve, `MIGRATE_HIGHATOMIC` pageblocks.
        const HIGHATOMIC = 0x200;
        /// Wake kswapd (equal to `__GFP_KSWAPD_RECLAIM`).
        const KSWAPD = 0x800;
    }
}

impl AllocFlags {
    /// `ALLOC_WMARK_MIN`: no bits.
    pub const WMARK_MIN: AllocFlags = AllocFlags::empty();
    /// `ALLOC_WMARK_MASK`.
    pub const WMARK_MASK: AllocFlags = AllocFlags::WMARK_LOW.union(AllocFlags::WMARK_HIGH);
    /// 6.3+ name of [`AllocFlags::HARDER`]: the caller cannot block.
    pub const NON_BLOCK: AllocFlags = AllocFlags::HARDER;
    /// 6.3+ name of [`AllocFlags::HIGH`]: `__GFP_HIGH` or an rt task.
    pub const MIN_RESERVE: AllocFlags = AllocFlags::HIGH;

    /// The watermark the low two bits select (`alloc_flags & ALLOC_WMARK_MASK`).
    pub fn wmark(self) -> Wmark {
        match (self & AllocFlags::WMARK_MASK).bits() {
            0 => Wmark::Min,
            1 => Wmark::Low,
            2 => Wmark::High,
            _ => Wmark::Promo,
        }
    }

    /// `ALLOC_*` names, `|`-joined: the watermark first (left out when `ALLOC_NO_WATERMARKS`
    /// makes a min watermark meaningless), then the bits, with 0x10 and 0x20 named by era.
    pub fn format(self, profile: &Profile) -> String {
        let mut parts = Vec::new();
        match self.wmark() {
            Wmark::Min if self.contains(AllocFlags::NO_WATERMARKS) => {}
            Wmark::Promo => parts.push("0x3".to_owned()),
            wmark => parts.push(format!("ALLOC_WMARK_{}", wmark.name().to_ascii_uppercase())),
        }
        let flags = self.difference(AllocFlags::WMARK_MASK);
        let mut names = flags.iter_names();
        for (name, _) in names.by_ref() {
            parts.push(format!("ALLOC_{}", era_name(name, profile.reserve_flags)));
        }
        if !names.remaining().is_empty() {
            parts.push(format!("{:#x}", names.remaining().bits()));
        }
        parts.join("|")
    }
}

/// What the allocator reads from `current` and the preempt count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskContext {
    /// `in_task()`. `false` is a softirq: `in_serving_softirq()`, where `PF_MEMALLOC` still
    /// counts (network receive for swap over the network). Hard-IRQ context is not modelled
    /// apart; the kernel would ignore `PF_MEMALLOC` there.
    pub in_task: bool,
    /// `rt_task(current)`: SCHED_FIFO, SCHED_RR or SCHED_DEADLINE.
    pub rt_task: bool,
    /// `current->flags & PF_MEMALLOC`: reclaim itself, or `memalloc_noreclaim_save()`.
    pub pf_memalloc: bool,
    /// `tsk_is_oom_victim(current)` (`oom_reserves_allowed` with CONFIG_MMU).
    pub oom_victim: bool,
}

impl Default for TaskContext {
    fn default() -> Self {
        TaskContext { in_task: true, rt_task: false, pf_memalloc: false, oom_victim: false }
    }
}

/// The slow path's gfp mask (`__alloc_pages_slowpath`, ≤6.2): `__GFP_ATOMIC` together with
/// `__GFP_DIRECT_RECLAIM` contradicts itself, so the kernel warns once and drops `__GFP_ATOMIC`
/// before computing alloc flags. 6.3+ has no `__GFP_ATOMIC` and changes nothing.
pub fn slowpath_gfp_mask(gfp: Gfp, profile: &Profile, why: &mut impl Why) -> Gfp {
    let contradiction = Gfp::ATOMIC | Gfp::DIRECT_RECLAIM;
    if profile.has_gfp_atomic() && gfp.contains(contradiction) {
        why.why(|| {
            "__GFP_ATOMIC with __GFP_DIRECT_RECLAIM: the slow path warns and drops __GFP_ATOMIC".to_owned()
        });
        gfp - Gfp::ATOMIC
    } else {
        gfp
    }
}

/// The kernel's name, without `ALLOC_`, of the flag bitflags calls `name`: 6.3 renamed 0x10 and
/// 0x20.
fn era_name(name: &'static str, era: ReserveFlags) -> &'static str {
    match (era, name) {
        (ReserveFlags::NonBlockMinReserve, "HARDER") => "NON_BLOCK",
        (ReserveFlags::NonBlockMinReserve, "HIGH") => "MIN_RESERVE",
        _ => name,
    }
}

/// The rt-task rule of `gfp_to_alloc_flags` in both eras: an rt task gets `reserve`
/// (`ALLOC_HARDER` ≤6.2, `ALLOC_MIN_RESERVE` 6.3+), but only in task context, where its
/// priority is the caller's.
fn rt_task_reserve(
    ctx: &TaskContext,
    reserve: AllocFlags,
    era: ReserveFlags,
    why: &mut impl Why,
) -> AllocFlags {
    if !ctx.rt_task {
        return AllocFlags::empty();
    }
    if !ctx.in_task {
        why.why(|| "an rt task's priority does not count in interrupt context".to_owned());
        return AllocFlags::empty();
    }
    why.why(|| {
        let name = reserve.iter_names().map(|(n, _)| era_name(n, era)).next().unwrap_or_default();
        format!("real-time task in task context → ALLOC_{name}")
    });
    reserve
}

/// `gfp_to_alloc_flags()`: the slow path's alloc flags. The fast path used `ALLOC_WMARK_LOW`;
/// the slow path checks the min watermark and grants reserve rights by era:
///
/// - ≤6.2: `__GFP_HIGH` → `ALLOC_HIGH`; `__GFP_ATOMIC` → `ALLOC_HARDER` (not with
///   `__GFP_NOMEMALLOC`) and no `ALLOC_CPUSET`; otherwise an rt task outside interrupts →
///   `ALLOC_HARDER`.
/// - 6.3+: `__GFP_HIGH` → `ALLOC_MIN_RESERVE`; no `__GFP_DIRECT_RECLAIM` → `ALLOC_NON_BLOCK` (not
///   with `__GFP_NOMEMALLOC`), plus `ALLOC_HIGHATOMIC` above order 0 with `ALLOC_MIN_RESERVE`,
///   and then `ALLOC_MIN_RESERVE` drops `ALLOC_CPUSET`; otherwise an rt task in task context →
///   `ALLOC_MIN_RESERVE`.
///
/// `gfp_to_alloc_flags_cma` would add `ALLOC_CMA` to movable requests; pageflow models no CMA,
/// so it never does. `in_interrupt()` (≤6.2) and `!in_task()` (6.3+) are both `!ctx.in_task`.
pub fn gfp_to_alloc_flags(
    gfp: Gfp,
    order: u8,
    profile: &Profile,
    ctx: &TaskContext,
    why: &mut impl Why,
) -> AllocFlags {
    let era = profile.reserve_flags;
    let mut flags = AllocFlags::WMARK_MIN | AllocFlags::CPUSET;
    why.why(|| {
        "slow path: checks the min watermark (ALLOC_WMARK_MIN) on the cpuset's nodes (ALLOC_CPUSET)"
            .to_owned()
    });
    if gfp.contains(Gfp::HIGH) {
        flags |= AllocFlags::HIGH;
        why.why(|| {
            format!("__GFP_HIGH → ALLOC_{}: may use half of the reserve below min", era_name("HIGH", era))
        });
    }
    if gfp.contains(Gfp::KSWAPD_RECLAIM) {
        flags |= AllocFlags::KSWAPD;
        why.why(|| "__GFP_KSWAPD_RECLAIM → ALLOC_KSWAPD: kswapd is woken to reclaim".to_owned());
    }
    match era {
        ReserveFlags::HarderHigh if gfp.contains(Gfp::ATOMIC) => {
            if gfp.contains(Gfp::NOMEMALLOC) {
                why.why(|| "__GFP_ATOMIC with __GFP_NOMEMALLOC: no ALLOC_HARDER".to_owned());
            } else {
                flags |= AllocFlags::HARDER;
                why.why(|| {
                    "__GFP_ATOMIC → ALLOC_HARDER: may dip a further quarter below min, and into \
                     the high-atomic reserve"
                        .to_owned()
                });
            }
            flags -= AllocFlags::CPUSET;
            why.why(|| "__GFP_ATOMIC drops ALLOC_CPUSET: any node rather than fail".to_owned());
        }
        ReserveFlags::NonBlockMinReserve if !gfp.contains(Gfp::DIRECT_RECLAIM) => {
            if gfp.contains(Gfp::NOMEMALLOC) {
                why.why(|| "cannot sleep, but __GFP_NOMEMALLOC: no ALLOC_NON_BLOCK".to_owned());
            } else {
                flags |= AllocFlags::NON_BLOCK;
                why.why(|| {
                    "no __GFP_DIRECT_RECLAIM → ALLOC_NON_BLOCK: cannot sleep, so together with \
                     ALLOC_MIN_RESERVE it may dip a further quarter below min"
                        .to_owned()
                });
                if order > 0 && flags.contains(AllocFlags::MIN_RESERVE) {
                    flags |= AllocFlags::HIGHATOMIC;
                    why.why(|| {
                        format!(
                            "order-{order} non-blocking __GFP_HIGH → ALLOC_HIGHATOMIC: may use, and \
                             set aside, MIGRATE_HIGHATOMIC pageblocks"
                        )
                    });
                }
            }
            if flags.contains(AllocFlags::MIN_RESERVE) {
                flags -= AllocFlags::CPUSET;
                why.why(|| {
                    "non-blocking ALLOC_MIN_RESERVE drops ALLOC_CPUSET: any node rather than fail".to_owned()
                });
            }
        }
        ReserveFlags::HarderHigh => flags |= rt_task_reserve(ctx, AllocFlags::HARDER, era, why),
        ReserveFlags::NonBlockMinReserve => flags |= rt_task_reserve(ctx, AllocFlags::MIN_RESERVE, era, why),
    }
    flags
}

/// `min - min / part`, the share of the reserve below min that the flag `name` grants.
fn take_share(min: u64, part: u64, name: &'static str, era: ReserveFlags, why: &mut impl Why) -> u64 {
    let rest = min - min / part;
    why.why(|| {
        let share = if part == 2 { "half" } else { "a quarter" };
        format!(
            "ALLOC_{}: {share} of what is left of min may be used, {min} → {rest} pages",
            era_name(name, era)
        )
    });
    rest
}

/// The watermark a zone must stay above, scaled down for the reserve rights in `flags`: the part
/// of `__zone_watermark_ok` that lowers `min`. ≤6.2: `ALLOC_HIGH` takes half, then `ALLOC_OOM`
/// half of the rest or else `ALLOC_HARDER` a quarter. 6.3+: `ALLOC_MIN_RESERVE` takes half and,
/// with `ALLOC_NON_BLOCK`, a quarter of the rest; `ALLOC_OOM` takes half of what remains.
/// `ALLOC_NO_WATERMARKS` is not looked at here: its caller skips the check.
pub fn reserve_adjusted_min(mark: u64, flags: AllocFlags, profile: &Profile, why: &mut impl Why) -> u64 {
    let era = profile.reserve_flags;
    let mut min = mark;
    match era {
        ReserveFlags::HarderHigh => {
            if flags.contains(AllocFlags::HIGH) {
                min = take_share(min, 2, "HIGH", era, why);
            }
            if flags.contains(AllocFlags::OOM) {
                min = take_share(min, 2, "OOM", era, why);
            } else if flags.contains(AllocFlags::HARDER) {
                min = take_share(min, 4, "HARDER", era, why);
            }
        }
        ReserveFlags::NonBlockMinReserve => {
            if flags.contains(AllocFlags::MIN_RESERVE) {
                min = take_share(min, 2, "HIGH", era, why);
                if flags.contains(AllocFlags::NON_BLOCK) {
                    min = take_share(min, 4, "HARDER", era, why);
                }
            } else if flags.contains(AllocFlags::NON_BLOCK) {
                why.why(|| {
                    "ALLOC_NON_BLOCK without ALLOC_MIN_RESERVE: no share of min (GFP_NOWAIT is not \
                     GFP_ATOMIC)"
                        .to_owned()
                });
            }
            if flags.contains(AllocFlags::OOM) {
                min = take_share(min, 2, "OOM", era, why);
            }
        }
    }
    min
}

/// `__gfp_pfmemalloc_flags()`: the emergency reserve flags the slow path retries with once its
/// first attempt fails. `__GFP_NOMEMALLOC` forbids them; `__GFP_MEMALLOC` or `PF_MEMALLOC` (in
/// task context or a softirq) skip the watermarks; an OOM victim in task context gets
/// `ALLOC_OOM`.
pub fn __gfp_pfmemalloc_flags(gfp: Gfp, ctx: &TaskContext, why: &mut impl Why) -> AllocFlags {
    if gfp.contains(Gfp::NOMEMALLOC) {
        why.why(|| "__GFP_NOMEMALLOC: never the emergency reserves".to_owned());
        return AllocFlags::empty();
    }
    if gfp.contains(Gfp::MEMALLOC) {
        why.why(|| "__GFP_MEMALLOC → ALLOC_NO_WATERMARKS: may use every free page".to_owned());
        return AllocFlags::NO_WATERMARKS;
    }
    if ctx.pf_memalloc {
        why.why(|| {
            let place = if ctx.in_task { "task" } else { "softirq" };
            format!("PF_MEMALLOC in {place} context → ALLOC_NO_WATERMARKS: may use every free page")
        });
        return AllocFlags::NO_WATERMARKS;
    }
    if ctx.oom_victim {
        if ctx.in_task {
            why.why(|| "OOM victim → ALLOC_OOM: a further half of min, to exit quickly".to_owned());
            return AllocFlags::OOM;
        }
        why.why(|| "an OOM victim's rights do not count in interrupt context".to_owned());
    }
    AllocFlags::empty()
}

/// `gfp_pfmemalloc_allowed()`: whether the request may use the emergency reserves at all.
pub fn gfp_pfmemalloc_allowed(gfp: Gfp, ctx: &TaskContext, why: &mut impl Why) -> bool {
    !__gfp_pfmemalloc_flags(gfp, ctx, why).is_empty()
}

/// How far below its watermark a zone may be drained for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReserveAccess {
    /// The watermark must be met in full.
    NoAccess,
    /// The min watermark is lowered to `min_per_1024`/1024 of itself (384 for `GFP_ATOMIC`).
    Partial { min_per_1024: u64 },
    /// `ALLOC_NO_WATERMARKS`: every free page.
    All,
}

/// One allocation attempt of the slow path: its flags, the watermark they select and the
/// reserve rights they carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub alloc_flags: String,
    pub wmark: Wmark,
    pub reserve: ReserveAccess,
}

/// A nominal min watermark, to state reserve rights as a share of 1024 whatever the zone size;
/// the reasons of [`explain`] show the page counts for a min of this size.
const NOMINAL_MIN: u64 = 1024;

fn attempt(flags: AllocFlags, profile: &Profile, why: &mut impl Why) -> Attempt {
    let reserve = if flags.contains(AllocFlags::NO_WATERMARKS) {
        why.why(|| "ALLOC_NO_WATERMARKS: no watermark check, every free page may be used".to_owned());
        ReserveAccess::All
    } else {
        match reserve_adjusted_min(NOMINAL_MIN, flags, profile, why) {
            NOMINAL_MIN => {
                let wmark = flags.wmark().name();
                why.why(|| format!("no reserve rights: the zone must stay above its full {wmark} watermark"));
                ReserveAccess::NoAccess
            }
            min_per_1024 => ReserveAccess::Partial { min_per_1024 },
        }
    };
    Attempt { alloc_flags: flags.format(profile), wmark: flags.wmark(), reserve }
}

/// Everything the allocator decides from a GFP mask before it looks at a zone, for the GFP
/// editor and the CLI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GfpExplanation {
    pub profile: &'static str,
    /// The mask as `%pGg` prints it.
    pub gfp: String,
    pub gfp_hex: String,
    pub order: u8,
    /// Why the mask does not exist in this era ([`Gfp::check`]), if it does not.
    pub invalid: Option<String>,
    /// The highest zone ([`gfp_zone`]), or why there is none.
    pub zone: Option<ZoneType>,
    pub zone_error: Option<String>,
    pub migratetype: Option<MigrateType>,
    pub migratetype_error: Option<String>,
    pub zonelist: Zonelist,
    /// `__GFP_DIRECT_RECLAIM`: may sleep in direct reclaim and compaction.
    pub may_sleep: bool,
    pub may_wake_kswapd: bool,
    /// The first attempt, `get_page_from_freelist` with `ALLOC_WMARK_LOW`: always the low mark.
    pub fast_path_wmark: Wmark,
    /// The slow path's attempts with [`gfp_to_alloc_flags`].
    pub slow_path: Attempt,
    /// The retry with [`__gfp_pfmemalloc_flags`] in place of the slow path's flags, if any.
    pub pfmemalloc: Option<Attempt>,
    /// Every reason, in the order the allocator meets them.
    pub reasons: Vec<String>,
}

/// Explains `gfp` at `order` in `profile`'s era for a caller in `ctx`, running the same decision
/// functions as the allocator with a reason collector.
pub fn explain(gfp: Gfp, order: u8, profile: &Profile, ctx: &TaskContext) -> GfpExplanation {
    let mut reasons = Vec::new();
    let invalid = gfp.check(profile).err().map(|e| e.to_string());
    reasons.extend(invalid.clone());
    let zone = gfp_zone(gfp, &mut reasons);
    let migratetype = gfp_migratetype(gfp, &mut reasons);
    let zonelist = gfp_zonelist(gfp, &mut reasons);
    let may_sleep = gfpflags_allow_blocking(gfp);
    reasons.push(if may_sleep {
        "__GFP_DIRECT_RECLAIM: may sleep to reclaim and compact when memory is short".to_owned()
    } else {
        "no __GFP_DIRECT_RECLAIM: never sleeps; fails rather than wait for reclaim".to_owned()
    });
    if may_sleep && !ctx.in_task {
        reasons.push("a sleeping allocation in interrupt context is a bug (might_sleep)".to_owned());
    }
    let may_wake_kswapd = gfp.contains(Gfp::KSWAPD_RECLAIM);
    if !may_wake_kswapd {
        reasons.push("no __GFP_KSWAPD_RECLAIM: kswapd is not woken".to_owned());
    }
    reasons.push(
        "fast path: ALLOC_WMARK_LOW, so a zone is used only while it stays above its low \
         watermark, with no reserves"
            .to_owned(),
    );
    let slow_gfp = slowpath_gfp_mask(gfp, profile, &mut reasons);
    let slow_flags = gfp_to_alloc_flags(slow_gfp, order, profile, ctx, &mut reasons);
    reasons.push(format!("reserve shares below are for a min watermark of {NOMINAL_MIN} pages"));
    let slow_path = attempt(slow_flags, profile, &mut reasons);
    let reserve_flags = __gfp_pfmemalloc_flags(slow_gfp, ctx, &mut reasons);
    let pfmemalloc = if reserve_flags.is_empty() {
        None
    } else {
        reasons
            .push("if that fails, the slow path retries with the emergency reserve flags instead".to_owned());
        Some(attempt(reserve_flags, profile, &mut reasons))
    };
    GfpExplanation {
        profile: profile.id,
        gfp: gfp.format(profile),
        gfp_hex: format!("{:#x}", gfp.bits()),
        order,
        invalid,
        zone: zone.ok(),
        zone_error: zone.err().map(|e| e.to_string()),
        migratetype: migratetype.ok(),
        migratetype_error: migratetype.err().map(|e| e.to_string()),
        zonelist,
        may_sleep,
        may_wake_kswapd,
        fast_path_wmark: Wmark::Low,
        slow_path,
        pfmemalloc,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::why::NoWhy;
    use proptest::prelude::*;

    fn p(id: &str) -> &'static Profile {
        Profile::by_id(id).expect("profile exists")
    }

    fn parse(text: &str, id: &str) -> Result<Gfp, String> {
        Gfp::parse(text, p(id)).map_err(|e| e.to_string())
    }

    fn slow_flags(gfp: Gfp, order: u8, id: &str, ctx: &TaskContext) -> AllocFlags {
        gfp_to_alloc_flags(gfp, order, p(id), ctx, &mut NoWhy)
    }

    #[test]
    fn gfp_bits_have_the_6_1_gfp_types_h_values() {
        let expected: &[(Gfp, u32)] = &[
            (Gfp::DMA, 0x01),
            (Gfp::HIGHMEM, 0x02),
            (Gfp::DMA32, 0x04),
            (Gfp::MOVABLE, 0x08),
            (Gfp::RECLAIMABLE, 0x10),
            (Gfp::HIGH, 0x20),
            (Gfp::IO, 0x40),
            (Gfp::FS, 0x80),
            (Gfp::ZERO, 0x100),
            (Gfp::ATOMIC, 0x200),
            (Gfp::DIRECT_RECLAIM, 0x400),
            (Gfp::KSWAPD_RECLAIM, 0x800),
            (Gfp::WRITE, 0x1000),
            (Gfp::NOWARN, 0x2000),
            (Gfp::RETRY_MAYFAIL, 0x4000),
            (Gfp::NOFAIL, 0x8000),
            (Gfp::NORETRY, 0x10000),
            (Gfp::MEMALLOC, 0x20000),
            (Gfp::COMP, 0x40000),
            (Gfp::NOMEMALLOC, 0x80000),
            (Gfp::HARDWALL, 0x100000),
            (Gfp::THISNODE, 0x200000),
            (Gfp::ACCOUNT, 0x400000),
            (Gfp::ZEROTAGS, 0x800000),
            (Gfp::SKIP_ZERO, 0x1000000),
            (Gfp::SKIP_KASAN_UNPOISON, 0x2000000),
            (Gfp::SKIP_KASAN_POISON, 0x4000000),
            (Gfp::NOLOCKDEP, 0x8000000),
            (Gfp::RECLAIM, 0xc00),
        ];
        for (flag, bits) in expected {
            assert_eq!(flag.bits(), *bits, "{flag:?}");
        }
        assert_eq!(Gfp::all().bits(), 0x0fff_ffff);
    }

    #[test]
    fn composites_have_the_values_x86_64_traces_show() {
        let six_one = p("6.1");
        let expected: &[(&str, u32)] = &[
            ("GFP_ATOMIC", 0xa20),
            ("GFP_KERNEL", 0xcc0),
            ("GFP_KERNEL_ACCOUNT", 0x400cc0),
            ("GFP_NOWAIT", 0x800),
            ("GFP_NOIO", 0xc00),
            ("GFP_NOFS", 0xc40),
            ("GFP_USER", 0x100cc0),
            ("GFP_DMA", 0x01),
            ("GFP_DMA32", 0x04),
            ("GFP_HIGHUSER", 0x100cc2),
            ("GFP_HIGHUSER_MOVABLE", 0x100cca),
            ("GFP_TRANSHUGE_LIGHT", 0x1c20ca),
            ("GFP_TRANSHUGE", 0x1c24ca),
        ];
        let table = composites(six_one);
        assert_eq!(table.len(), expected.len());
        for ((name, bits), c) in expected.iter().zip(&table) {
            assert_eq!((c.name, c.value.bits()), (*name, *bits));
            assert!(!c.meaning.is_empty());
        }
    }

    #[test]
    fn gfp_atomic_carries_gfp_atomic_only_in_eras_that_have_it() {
        assert_eq!(Gfp::composite("GFP_ATOMIC", p("5.13")).map(|g| g.bits()), Some(0xa20));
        assert_eq!(Gfp::composite("GFP_ATOMIC", p("6.1")).map(|g| g.bits()), Some(0xa20));
        assert_eq!(Gfp::composite("GFP_ATOMIC", p("6.6")).map(|g| g.bits()), Some(0x820));
        assert_eq!(Gfp::composite("gfp_kernel", p("6.6")), Some(Gfp::GFP_KERNEL));
        assert_eq!(Gfp::composite("GFP_KERNAL", p("6.6")), None);
        assert_eq!(Gfp::named("__GFP_ATOMIC", p("6.1")), Some(Gfp::ATOMIC));
        assert_eq!(Gfp::named("__GFP_ATOMIC", p("6.6")), None);
    }

    #[test]
    fn gfp_kernel_is_reclaim_io_fs_and_selects_zone_normal() {
        assert_eq!(Gfp::GFP_KERNEL, Gfp::RECLAIM | Gfp::IO | Gfp::FS);
        assert_eq!(gfp_zone(Gfp::GFP_KERNEL, &mut NoWhy), Ok(ZoneType::Normal));
        assert_eq!(gfp_migratetype(Gfp::GFP_KERNEL, &mut NoWhy), Ok(MigrateType::Unmovable));
        assert!(gfpflags_allow_blocking(Gfp::GFP_KERNEL));
        assert_eq!(gfp_zonelist(Gfp::GFP_KERNEL, &mut NoWhy), Zonelist::Fallback);
    }

    #[test]
    fn gfp_highuser_movable_selects_zone_movable_and_migratetype_movable() {
        let gfp = Gfp::GFP_HIGHUSER_MOVABLE;
        assert_eq!(gfp_zone(gfp, &mut NoWhy), Ok(ZoneType::Movable));
        assert_eq!(gfp_migratetype(gfp, &mut NoWhy), Ok(MigrateType::Movable));
    }

    #[test]
    fn highmem_alone_selects_zone_normal_on_a_64_bit_kernel() {
        let mut why = Vec::new();
        assert_eq!(gfp_zone(Gfp::GFP_HIGHUSER, &mut why), Ok(ZoneType::Normal));
        assert!(why[0].contains("no ZONE_HIGHMEM"), "{why:?}");
        assert_eq!(gfp_zone(Gfp::MOVABLE, &mut NoWhy), Ok(ZoneType::Normal));
        assert_eq!(gfp_zone(Gfp::GFP_DMA32 | Gfp::MOVABLE, &mut NoWhy), Ok(ZoneType::Dma32));
        assert_eq!(gfp_zone(Gfp::GFP_DMA | Gfp::MOVABLE, &mut NoWhy), Ok(ZoneType::Dma));
    }

    #[test]
    fn dma_with_dma32_is_a_bad_zone_combination_not_a_panic() {
        let mut why = Vec::new();
        let error = gfp_zone(Gfp::GFP_KERNEL | Gfp::DMA | Gfp::DMA32, &mut why).unwrap_err();
        assert_eq!(error, GfpError::BadZone(Gfp::DMA | Gfp::DMA32));
        let text = error.to_string();
        assert!(
            text.starts_with("__GFP_DMA|__GFP_DMA32 is not a valid zone modifier combination (GFP_ZONE_BAD)"),
            "{text}"
        );
        assert_eq!(why, vec![text]);
    }

    #[test]
    fn exactly_the_eight_gfp_zone_bad_combinations_are_errors() {
        let bad: Vec<u32> =
            (0..16).filter(|bits| gfp_zone(Gfp::from_bits_retain(*bits), &mut NoWhy).is_err()).collect();
        assert_eq!(bad, vec![0x3, 0x5, 0x6, 0x7, 0xb, 0xd, 0xe, 0xf]);
    }

    #[test]
    fn movable_with_reclaimable_is_an_error_not_highatomic() {
        let error = gfp_migratetype(Gfp::MOVABLE | Gfp::RECLAIMABLE, &mut NoWhy).unwrap_err();
        assert_eq!(error, GfpError::MovableAndReclaimable);
        assert!(error.to_string().contains("MIGRATE_HIGHATOMIC"));
        assert_eq!(gfp_migratetype(Gfp::RECLAIMABLE, &mut NoWhy), Ok(MigrateType::Reclaimable));
    }

    #[test]
    fn thisnode_uses_the_nofallback_zonelist() {
        assert_eq!(gfp_zonelist(Gfp::GFP_KERNEL | Gfp::THISNODE, &mut NoWhy), Zonelist::NoFallback);
    }

    #[test]
    fn only_direct_reclaim_allows_blocking() {
        assert!(!gfpflags_allow_blocking(Gfp::gfp_atomic(p("6.1"))));
        assert!(!gfpflags_allow_blocking(Gfp::GFP_NOWAIT));
        assert!(!gfpflags_allow_blocking(Gfp::GFP_TRANSHUGE_LIGHT));
        assert!(gfpflags_allow_blocking(Gfp::GFP_TRANSHUGE));
        assert!(gfpflags_allow_blocking(Gfp::GFP_NOIO));
    }

    #[test]
    fn alloc_flags_have_the_mm_internal_h_values() {
        let expected: &[(AllocFlags, u32)] = &[
            (AllocFlags::WMARK_MIN, 0),
            (AllocFlags::WMARK_LOW, 1),
            (AllocFlags::WMARK_HIGH, 2),
            (AllocFlags::WMARK_MASK, 3),
            (AllocFlags::NO_WATERMARKS, 0x04),
            (AllocFlags::OOM, 0x08),
            (AllocFlags::HARDER, 0x10),
            (AllocFlags::NON_BLOCK, 0x10),
            (AllocFlags::HIGH, 0x20),
            (AllocFlags::MIN_RESERVE, 0x20),
            (AllocFlags::CPUSET, 0x40),
            (AllocFlags::CMA, 0x80),
            (AllocFlags::NOFRAGMENT, 0x100),
            (AllocFlags::HIGHATOMIC, 0x200),
            (AllocFlags::KSWAPD, 0x800),
        ];
        for (flag, bits) in expected {
            assert_eq!(flag.bits(), *bits, "{flag:?}");
        }
        // gfp_to_alloc_flags relies on these being the same bits in the kernel.
        assert_eq!(Gfp::HIGH.bits(), AllocFlags::HIGH.bits());
        assert_eq!(Gfp::KSWAPD_RECLAIM.bits(), AllocFlags::KSWAPD.bits());
    }

    #[test]
    fn alloc_flags_wmark_reads_the_low_two_bits() {
        assert_eq!(AllocFlags::CPUSET.wmark(), Wmark::Min);
        assert_eq!((AllocFlags::WMARK_LOW | AllocFlags::KSWAPD).wmark(), Wmark::Low);
        assert_eq!(AllocFlags::WMARK_HIGH.wmark(), Wmark::High);
        assert_eq!(AllocFlags::WMARK_MASK.wmark(), Wmark::Promo);
        assert_eq!(Wmark::High.index(), 2);
    }

    #[test]
    fn alloc_flags_are_named_by_era() {
        let flags = AllocFlags::HARDER | AllocFlags::HIGH | AllocFlags::KSWAPD;
        assert_eq!(flags.format(p("6.1")), "ALLOC_WMARK_MIN|ALLOC_HARDER|ALLOC_HIGH|ALLOC_KSWAPD");
        assert_eq!(flags.format(p("6.6")), "ALLOC_WMARK_MIN|ALLOC_NON_BLOCK|ALLOC_MIN_RESERVE|ALLOC_KSWAPD");
        assert_eq!(AllocFlags::NO_WATERMARKS.format(p("6.6")), "ALLOC_NO_WATERMARKS");
        assert_eq!(AllocFlags::WMARK_LOW.format(p("6.6")), "ALLOC_WMARK_LOW");
        assert_eq!(AllocFlags::from_bits_retain(0x1803).format(p("6.1")), "0x3|ALLOC_KSWAPD|0x1000");
    }

    #[test]
    fn gfp_kernel_gets_min_watermark_cpuset_and_kswapd_in_every_era() {
        for id in ["5.13", "6.1", "6.6"] {
            let flags = slow_flags(Gfp::GFP_KERNEL, 0, id, &TaskContext::default());
            assert_eq!(flags, AllocFlags::WMARK_MIN | AllocFlags::CPUSET | AllocFlags::KSWAPD, "{id}");
        }
    }

    #[test]
    fn gfp_atomic_in_6_1_gets_alloc_harder_and_drops_cpuset() {
        let six_one = p("6.1");
        let mut why = Vec::new();
        let flags =
            gfp_to_alloc_flags(Gfp::gfp_atomic(six_one), 0, six_one, &TaskContext::default(), &mut why);
        assert_eq!(flags, AllocFlags::HARDER | AllocFlags::HIGH | AllocFlags::KSWAPD);
        assert!(why.iter().any(|r| r.contains("ALLOC_HARDER")), "{why:?}");
        assert!(why.iter().any(|r| r.contains("drops ALLOC_CPUSET")), "{why:?}");
        // No ALLOC_HIGHATOMIC before 6.3, whatever the order.
        assert_eq!(slow_flags(Gfp::gfp_atomic(six_one), 3, "6.1", &TaskContext::default()), flags);
    }

    #[test]
    fn gfp_atomic_in_6_6_gets_non_block_and_min_reserve() {
        let six_six = p("6.6");
        let ctx = TaskContext::default();
        let flags = slow_flags(Gfp::gfp_atomic(six_six), 0, "6.6", &ctx);
        assert_eq!(flags, AllocFlags::NON_BLOCK | AllocFlags::MIN_RESERVE | AllocFlags::KSWAPD);
        assert_eq!(flags.format(six_six), "ALLOC_WMARK_MIN|ALLOC_NON_BLOCK|ALLOC_MIN_RESERVE|ALLOC_KSWAPD");
        let high_order = slow_flags(Gfp::gfp_atomic(six_six), 2, "6.6", &ctx);
        assert_eq!(high_order, flags | AllocFlags::HIGHATOMIC);
    }

    #[test]
    fn gfp_nowait_in_6_6_is_non_block_but_keeps_cpuset_and_gets_no_reserve() {
        let ctx = TaskContext::default();
        let flags = slow_flags(Gfp::GFP_NOWAIT, 1, "6.6", &ctx);
        assert_eq!(flags, AllocFlags::NON_BLOCK | AllocFlags::CPUSET | AllocFlags::KSWAPD);
        assert_eq!(reserve_adjusted_min(1024, flags, p("6.6"), &mut NoWhy), 1024);
        // ≤6.2 GFP_NOWAIT has no __GFP_ATOMIC and gets nothing either.
        assert_eq!(slow_flags(Gfp::GFP_NOWAIT, 1, "6.1", &ctx), AllocFlags::CPUSET | AllocFlags::KSWAPD);
    }

    #[test]
    fn nomemalloc_withholds_harder_and_non_block_but_atomic_still_ignores_the_cpuset() {
        let ctx = TaskContext::default();
        let gfp = Gfp::gfp_atomic(p("6.1")) | Gfp::NOMEMALLOC;
        assert_eq!(slow_flags(gfp, 0, "6.1", &ctx), AllocFlags::HIGH | AllocFlags::KSWAPD);
        let gfp = Gfp::gfp_atomic(p("6.6")) | Gfp::NOMEMALLOC;
        assert_eq!(slow_flags(gfp, 3, "6.6", &ctx), AllocFlags::MIN_RESERVE | AllocFlags::KSWAPD);
    }

    #[test]
    fn an_rt_task_gets_harder_in_6_1_and_min_reserve_in_6_6_but_not_in_a_softirq() {
        let rt = TaskContext { rt_task: true, ..TaskContext::default() };
        let base = AllocFlags::CPUSET | AllocFlags::KSWAPD;
        assert_eq!(slow_flags(Gfp::GFP_KERNEL, 0, "6.1", &rt), base | AllocFlags::HARDER);
        assert_eq!(slow_flags(Gfp::GFP_KERNEL, 0, "6.6", &rt), base | AllocFlags::MIN_RESERVE);
        let softirq = TaskContext { in_task: false, ..rt };
        let mut why = Vec::new();
        assert_eq!(gfp_to_alloc_flags(Gfp::GFP_KERNEL, 0, p("6.6"), &softirq, &mut why), base);
        assert!(why.iter().any(|r| r.contains("interrupt context")), "{why:?}");
        // 6.3+: a non-blocking rt request takes the non-blocking branch, not the rt one.
        assert_eq!(slow_flags(Gfp::GFP_NOWAIT, 0, "6.6", &rt), base | AllocFlags::NON_BLOCK);
    }

    #[test]
    fn the_slow_path_drops_gfp_atomic_from_a_blocking_request_before_6_3() {
        let gfp = Gfp::gfp_atomic(p("6.1")) | Gfp::DIRECT_RECLAIM;
        let mut why = Vec::new();
        assert_eq!(slowpath_gfp_mask(gfp, p("6.1"), &mut why), gfp - Gfp::ATOMIC);
        assert_eq!(why.len(), 1);
        assert_eq!(
            slowpath_gfp_mask(Gfp::gfp_atomic(p("6.1")), p("6.1"), &mut NoWhy),
            Gfp::gfp_atomic(p("6.1"))
        );
        assert_eq!(slowpath_gfp_mask(gfp, p("6.6"), &mut NoWhy), gfp);
    }

    #[test]
    fn memalloc_means_no_watermarks_unless_nomemalloc() {
        let ctx = TaskContext::default();
        assert_eq!(
            __gfp_pfmemalloc_flags(Gfp::GFP_KERNEL | Gfp::MEMALLOC, &ctx, &mut NoWhy),
            AllocFlags::NO_WATERMARKS
        );
        let both = Gfp::GFP_KERNEL | Gfp::MEMALLOC | Gfp::NOMEMALLOC;
        assert_eq!(__gfp_pfmemalloc_flags(both, &ctx, &mut NoWhy), AllocFlags::empty());
        let pf = TaskContext { pf_memalloc: true, oom_victim: true, ..ctx };
        assert_eq!(__gfp_pfmemalloc_flags(both, &pf, &mut NoWhy), AllocFlags::empty());
        assert!(!gfp_pfmemalloc_allowed(both, &pf, &mut NoWhy));
    }

    #[test]
    fn pf_memalloc_counts_in_task_and_softirq_context_and_an_oom_victim_only_in_task_context() {
        let pf = TaskContext { pf_memalloc: true, ..TaskContext::default() };
        assert_eq!(
            __gfp_pfmemalloc_flags(Gfp::gfp_atomic(p("6.1")), &pf, &mut NoWhy),
            AllocFlags::NO_WATERMARKS
        );
        let softirq = TaskContext { in_task: false, ..pf };
        assert_eq!(__gfp_pfmemalloc_flags(Gfp::GFP_NOWAIT, &softirq, &mut NoWhy), AllocFlags::NO_WATERMARKS);
        let victim = TaskContext { oom_victim: true, ..TaskContext::default() };
        assert_eq!(__gfp_pfmemalloc_flags(Gfp::GFP_KERNEL, &victim, &mut NoWhy), AllocFlags::OOM);
        assert!(gfp_pfmemalloc_allowed(Gfp::GFP_KERNEL, &victim, &mut NoWhy));
        let victim_irq = TaskContext { in_task: false, ..victim };
        assert_eq!(__gfp_pfmemalloc_flags(Gfp::GFP_KERNEL, &victim_irq, &mut NoWhy), AllocFlags::empty());
        assert!(!gfp_pfmemalloc_allowed(Gfp::GFP_KERNEL, &TaskContext::default(), &mut NoWhy));
    }

    #[test]
    fn reserve_shares_match_the_worked_example_with_min_1024() {
        for id in ["6.1", "6.6"] {
            let profile = p(id);
            let min = |flags| reserve_adjusted_min(1024, flags, profile, &mut NoWhy);
            assert_eq!(min(AllocFlags::empty()), 1024, "{id}");
            assert_eq!(min(AllocFlags::HIGH), 512, "{id}");
            assert_eq!(min(AllocFlags::HIGH | AllocFlags::HARDER), 384, "{id}");
            assert_eq!(min(AllocFlags::OOM), 512, "{id}");
            assert_eq!(min(AllocFlags::OOM | AllocFlags::HIGH), 256, "{id}");
        }
        // ALLOC_HARDER alone is a quarter before 6.3; ALLOC_NON_BLOCK alone is nothing after.
        assert_eq!(reserve_adjusted_min(1024, AllocFlags::HARDER, p("6.1"), &mut NoWhy), 768);
        assert_eq!(reserve_adjusted_min(1024, AllocFlags::HARDER, p("6.6"), &mut NoWhy), 1024);
        // Before 6.3 ALLOC_OOM replaces ALLOC_HARDER's quarter; after, they add up.
        let all = AllocFlags::HIGH | AllocFlags::HARDER | AllocFlags::OOM;
        assert_eq!(reserve_adjusted_min(1024, all, p("6.1"), &mut NoWhy), 256);
        assert_eq!(reserve_adjusted_min(1024, all, p("6.6"), &mut NoWhy), 192);
    }

    #[test]
    fn parse_accepts_composites_bits_numbers_and_c_operators() {
        assert_eq!(parse("GFP_KERNEL | __GFP_ZERO", "6.1"), Ok(Gfp::GFP_KERNEL | Gfp::ZERO));
        assert_eq!(
            parse("GFP_KERNEL & ~__GFP_DIRECT_RECLAIM", "6.6"),
            Ok(Gfp::IO | Gfp::FS | Gfp::KSWAPD_RECLAIM)
        );
        assert_eq!(parse("__GFP_HIGH|__GFP_KSWAPD_RECLAIM", "6.6"), Ok(Gfp::gfp_atomic(p("6.6"))));
        assert_eq!(parse("0xcc0", "6.1"), Ok(Gfp::GFP_KERNEL));
        assert_eq!(parse("3264", "6.1"), Ok(Gfp::GFP_KERNEL));
        assert_eq!(parse("0", "6.1"), Ok(Gfp::empty()));
        assert_eq!(parse("  gfp_atomic|__gfp_nowarn ", "6.1").map(|g| g.bits()), Ok(0x2a20));
        assert_eq!(parse("GFP_ATOMIC", "6.6").map(|g| g.bits()), Ok(0x820));
        assert_eq!(parse("__GFP_RECLAIM", "6.1"), Ok(Gfp::RECLAIM));
    }

    #[test]
    fn parse_gives_and_precedence_over_or_and_honours_parentheses() {
        // C: a | b & c is a | (b & c).
        assert_eq!(parse("__GFP_ZERO | GFP_KERNEL & __GFP_IO", "6.1"), Ok(Gfp::ZERO | Gfp::IO));
        assert_eq!(parse("(__GFP_ZERO | GFP_KERNEL) & __GFP_IO", "6.1"), Ok(Gfp::IO));
        assert_eq!(parse("~~__GFP_IO", "6.1"), Ok(Gfp::IO));
    }

    #[test]
    fn parse_error_names_the_unknown_flag_and_what_is_accepted() {
        assert_eq!(
            parse("GFP_KERNAL", "6.1").unwrap_err(),
            "unknown GFP flag `GFP_KERNAL`: expected a GFP_* composite, a __GFP_* bit or a hex \
             number (did you mean `GFP_KERNEL`?)"
        );
        let bare = parse("GFP_KERNEL | ZERO", "6.1").unwrap_err();
        assert!(bare.contains("`ZERO`") && bare.contains("did you mean `__GFP_ZERO`?"), "{bare}");
        let nonsense = parse("FROBNICATE", "6.1").unwrap_err();
        assert_eq!(
            nonsense,
            "unknown GFP flag `FROBNICATE`: expected a GFP_* composite, a __GFP_* bit or a hex number"
        );
    }

    #[test]
    fn parse_refuses_gfp_atomic_after_6_2_with_a_clear_message() {
        let by_name = parse("GFP_KERNEL | __GFP_ATOMIC", "6.6").unwrap_err();
        assert!(by_name.starts_with("__GFP_ATOMIC does not exist in profile 6.6"), "{by_name}");
        assert_eq!(parse("0x200", "6.6").unwrap_err(), by_name);
        assert_eq!(parse("__GFP_ATOMIC", "5.13"), Ok(Gfp::ATOMIC));
        assert_eq!(Gfp::ATOMIC.check(p("6.6")), Err(GfpError::AtomicNotInProfile { profile: "6.6" }));
    }

    #[test]
    fn parse_errors_point_at_the_problem() {
        let cases = [
            ("", "empty GFP expression"),
            ("   ", "empty GFP expression"),
            ("GFP_KERNEL |", "expected a flag name, a number, `~` or `(`, but the expression ends"),
            ("| GFP_KERNEL", "expected a flag name, a number, `~` or `(` at column 1, found `|`"),
            ("GFP_KERNEL __GFP_ZERO", "expected `|`, `&` or the end of the expression at column 12"),
            ("(GFP_KERNEL", "expected `)`, but the expression ends"),
            ("GFP_KERNEL + __GFP_ZERO", "unexpected character `+` at column 12"),
            ("GFP_KERNEL | ö", "unexpected character `ö` at column 14"),
            ("0xfffffffff", "`0xfffffffff` is not a 32-bit number"),
            ("0xcg0", "`0xcg0` is not a 32-bit number"),
            ("~0", "0xf0000000 is not a GFP flag"),
        ];
        for (text, message) in cases {
            let error = parse(text, "6.1").unwrap_err();
            assert!(error.starts_with(message), "{text:?}: {error}");
        }
        let deep = format!("{}__GFP_IO{}", "(".repeat(1000), ")".repeat(1000));
        assert!(parse(&deep, "6.1").unwrap_err().contains("nest more than 32 deep"));
        assert!(parse(&"~".repeat(100_000), "6.1").is_err());
    }

    #[test]
    fn format_prints_like_show_gfp_flags() {
        let six_one = p("6.1");
        let six_six = p("6.6");
        let cases: &[(u32, &Profile, &str)] = &[
            (0, six_one, "0"),
            (0xcc0, six_one, "GFP_KERNEL"),
            (0xdc0, six_one, "GFP_KERNEL|__GFP_ZERO"),
            (0x400cc0, six_one, "GFP_KERNEL_ACCOUNT"),
            (0x100cca, six_one, "GFP_HIGHUSER_MOVABLE"),
            (0x1c24ca, six_one, "GFP_TRANSHUGE"),
            (0xa20, six_one, "GFP_ATOMIC"),
            (0x2a20, six_one, "GFP_ATOMIC|__GFP_NOWARN"),
            (0x820, six_one, "GFP_NOWAIT|__GFP_HIGH"),
            (0x820, six_six, "GFP_ATOMIC"),
            (0x200, six_one, "__GFP_ATOMIC"),
            (0x200, six_six, "0x200"),
            (0x400, six_one, "__GFP_DIRECT_RECLAIM"),
            (0x05, six_one, "GFP_DMA|GFP_DMA32"),
            (0xcc0 | 0x8000000, six_one, "GFP_KERNEL|__GFP_NOLOCKDEP"),
            (0x1000_0cc0, six_one, "GFP_KERNEL|0x10000000"),
        ];
        for (bits, profile, text) in cases {
            assert_eq!(Gfp::from_bits_retain(*bits).format(profile), *text, "{bits:#x} in {}", profile.id);
        }
    }

    #[test]
    fn format_then_parse_round_trips_every_mask_of_the_low_sixteen_bits() {
        for profile in [p("5.13"), p("6.1"), p("6.6")] {
            for bits in 0..=0xffff_u32 {
                let gfp = Gfp::from_bits_retain(bits);
                if gfp.check(profile).is_err() {
                    continue;
                }
                let text = gfp.format(profile);
                assert_eq!(Gfp::parse(&text, profile), Ok(gfp), "{bits:#x} printed as {text}");
            }
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips_any_valid_mask(bits in 0..=Gfp::all().bits(), six_six: bool) {
            let profile = if six_six { p("6.6") } else { p("6.1") };
            let gfp = Gfp::from_bits_retain(bits);
            prop_assume!(gfp.check(profile).is_ok());
            prop_assert_eq!(Gfp::parse(&gfp.format(profile), profile), Ok(gfp));
        }

        #[test]
        fn parse_never_panics(text in "[ ()|&~0-9a-zA-Z_x+ö]{0,40}") {
            let _ = Gfp::parse(&text, p("6.1")).map_err(|e| e.to_string());
        }

        #[test]
        fn explain_never_panics(bits: u32, order in 0u8..=10, in_task: bool, rt_task: bool, pf_memalloc: bool, oom_victim: bool) {
            let ctx = TaskContext { in_task, rt_task, pf_memalloc, oom_victim };
            for id in ["6.1", "6.6"] {
                let e = explain(Gfp::from_bits_retain(bits), order, p(id), &ctx);
                prop_assert!(!e.reasons.is_empty());
            }
        }
    }

    #[test]
    fn explain_gfp_kernel_says_it_sleeps_and_checks_the_min_watermark_in_full() {
        let e = explain(Gfp::GFP_KERNEL, 0, p("6.1"), &TaskContext::default());
        assert_eq!((e.gfp.as_str(), e.gfp_hex.as_str()), ("GFP_KERNEL", "0xcc0"));
        assert_eq!(
            (e.zone, e.migratetype, e.invalid),
            (Some(ZoneType::Normal), Some(MigrateType::Unmovable), None)
        );
        assert!(e.may_sleep && e.may_wake_kswapd);
        assert_eq!((e.fast_path_wmark, e.slow_path.wmark), (Wmark::Low, Wmark::Min));
        assert_eq!(e.slow_path.alloc_flags, "ALLOC_WMARK_MIN|ALLOC_CPUSET|ALLOC_KSWAPD");
        assert_eq!(e.slow_path.reserve, ReserveAccess::NoAccess);
        assert_eq!(e.pfmemalloc, None);
        assert!(e.reasons.iter().any(|r| r.contains("ZONE_NORMAL")), "{:?}", e.reasons);
    }

    #[test]
    fn explain_gfp_atomic_shows_the_reserve_share_in_both_eras() {
        for (id, flags) in [
            ("6.1", "ALLOC_WMARK_MIN|ALLOC_HARDER|ALLOC_HIGH|ALLOC_KSWAPD"),
            ("6.6", "ALLOC_WMARK_MIN|ALLOC_NON_BLOCK|ALLOC_MIN_RESERVE|ALLOC_KSWAPD"),
        ] {
            let e = explain(
                Gfp::gfp_atomic(p(id)),
                0,
                p(id),
                &TaskContext { in_task: false, ..Default::default() },
            );
            assert!(!e.may_sleep);
            assert_eq!(e.slow_path.alloc_flags, flags);
            assert_eq!(e.slow_path.reserve, ReserveAccess::Partial { min_per_1024: 384 });
            assert!(e.reasons.iter().any(|r| r.contains("512 → 384")), "{:?}", e.reasons);
        }
    }

    #[test]
    fn explain_reports_errors_as_text_and_the_memalloc_retry() {
        let e = explain(
            Gfp::DMA | Gfp::DMA32 | Gfp::MOVABLE | Gfp::RECLAIMABLE,
            0,
            p("6.6"),
            &TaskContext::default(),
        );
        assert_eq!((e.zone, e.migratetype), (None, None));
        assert!(e.zone_error.as_deref().is_some_and(|t| t.contains("GFP_ZONE_BAD")));
        assert!(e.migratetype_error.is_some());
        let ctx = TaskContext { pf_memalloc: true, ..Default::default() };
        let e = explain(Gfp::GFP_KERNEL, 0, p("6.6"), &ctx);
        let retry = e.pfmemalloc.expect("PF_MEMALLOC retries without watermarks");
        assert_eq!((retry.alloc_flags.as_str(), retry.reserve), ("ALLOC_NO_WATERMARKS", ReserveAccess::All));
        let e = explain(Gfp::ATOMIC, 0, p("6.6"), &TaskContext::default());
        assert!(e.invalid.is_some());
        let json = serde_json::to_value(explain(Gfp::GFP_KERNEL, 0, p("6.1"), &ctx)).unwrap();
        assert_eq!(json["zone"], "NORMAL");
        assert_eq!(json["pfmemalloc"]["reserve"]["kind"], "all");
    }

    #[test]
    fn task_context_defaults_to_an_ordinary_task() {
        let ctx: TaskContext = serde_json::from_str(r#"{"rt_task": true}"#).unwrap();
        assert_eq!(ctx, TaskContext { rt_task: true, ..TaskContext::default() });
        assert!(ctx.in_task && !ctx.pf_memalloc && !ctx.oom_victim);
    }
}
