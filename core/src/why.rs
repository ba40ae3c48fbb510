//! Reasons carried with answers, so a UI can explain a decision ("no __GFP_DIRECT_RECLAIM: may not
//! sleep"). The hot path passes [`NoWhy`], which the compiler removes; explanations pass a
//! `Vec<String>`. One function serves both, so the explanation cannot drift from the decision.

/// Collects the reasons behind a decision.
pub trait Why {
    fn why(&mut self, reason: impl FnOnce() -> String);
}

/// Discards reasons; used on the allocation paths.
pub struct NoWhy;

impl Why for NoWhy {
    #[inline(always)]
    fn why(&mut self, _reason: impl FnOnce() -> String) {}
}

impl Why for Vec<String> {
    fn why(&mut self, reason: impl FnOnce() -> String) {
        self.push(reason());
    }
}
