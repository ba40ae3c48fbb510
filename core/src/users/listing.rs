//! Paraphrased kernel source for the code panel: each form of `svc_alloc_arg()` as numbered lines
//! with stable ids, so a UI can light the line a stepping thread is on. The text is written from
//! the kernel's code (net/sunrpc/svc_xprt.c), not copied; the ids never change once published,
//! because saved UI state and tests refer to them.

use serde::Serialize;

use crate::profile::SvcAllocArg;

/// The kernel file and function a listing paraphrases, and the release it is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    pub file: &'static str,
    pub function: &'static str,
    /// Which kernel (or patch) this form of the function is from.
    pub era: &'static str,
}

/// One line of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Stable id, unique within its listing ("bulk", "sleep", ...).
    pub id: &'static str,
    /// Nesting depth, for indenting the code panel.
    pub depth: u8,
    /// The paraphrased statement.
    pub text: &'static str,
}

/// A paraphrased kernel function, line by line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub source: Source,
    pub lines: &'static [Line],
}

impl Listing {
    /// The position of a line id in the listing.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.lines.iter().position(|l| l.id == id)
    }
}

const fn line(id: &'static str, depth: u8, text: &'static str) -> Line {
    Line { id, depth, text }
}

const SVC_XPRT: &str = "net/sunrpc/svc_xprt.c";

/// The per-page loop (before 5.13).
pub static PER_PAGE: Listing = Listing {
    source: Source { file: SVC_XPRT, function: "svc_alloc_arg", era: "5.12 and earlier" },
    lines: &[
        line("pages", 1, "pages = (serv->sv_max_mesg + 2 * PAGE_SIZE) >> PAGE_SHIFT;"),
        line("clamp", 1, "if (pages > RPCSVC_MAXPAGES) pages = RPCSVC_MAXPAGES; /* warns once */"),
        line("for", 1, "for (i = 0; i < pages; i++)"),
        line("while", 2, "while (rqstp->rq_pages[i] == NULL) {"),
        line("alloc", 3, "struct page *p = alloc_page(GFP_KERNEL);"),
        line("if_null", 3, "if (!p) {"),
        line("state", 4, "set_current_state(TASK_INTERRUPTIBLE);"),
        line("stop", 4, "if (signalled() || kthread_should_stop()) return -EINTR;"),
        line("sleep", 4, "schedule_timeout(msecs_to_jiffies(500));"),
        line("store", 3, "} rqstp->rq_pages[i] = p; /* NULL after a sleep: the while tries again */"),
        line("end", 1, "rqstp->rq_page_end = &rqstp->rq_pages[pages]; rqstp->rq_pages[pages] = NULL;"),
        line("arg", 1, "arg->head[0] = page 0; arg->pages = rqstp->rq_pages + 1;"),
        line("len", 1, "arg->page_len = (pages - 2) * PAGE_SIZE; /* one page kept for the reply */"),
        line("return", 1, "return 0;"),
    ],
};

/// Chuck Lever's prototype on the list API (February 2021, with the RFC of the bulk allocator).
pub static LIST_RFC: Listing = Listing {
    source: Source { file: SVC_XPRT, function: "svc_alloc_arg", era: "RFC prototype, February 2021" },
    lines: &[
        line("pages", 1, "pages = (serv->sv_max_mesg + 2 * PAGE_SIZE) >> PAGE_SHIFT; /* capped */"),
        line("count", 1, "for (needed = 0, i = 0; i < pages; i++) if (!rqstp->rq_pages[i]) needed++;"),
        line("if", 1, "if (needed) {"),
        line("bulk", 2, "retry: alloc_pages_bulk(GFP_KERNEL, needed, &list);"),
        line("for", 2, "for (i = 0; i < pages; i++) {"),
        line("hole", 3, "if (!rqstp->rq_pages[i]) {"),
        line("first", 4, "page = list_first_entry_or_null(&list, struct page, lru);"),
        line("empty", 4, "if (!page) goto empty_list;"),
        line("take", 4, "list_del(&page->lru); rqstp->rq_pages[i] = page; needed--;"),
        line("end", 1, "} rqstp->rq_page_end = &rqstp->rq_pages[pages]; rqstp->rq_pages[pages] = NULL;"),
        line("arg", 1, "arg->head[0] = page 0; arg->pages = rqstp->rq_pages + 1;"),
        line("len", 1, "arg->page_len = (pages - 2) * PAGE_SIZE; /* one page kept for the reply */"),
        line("return", 1, "return 0;"),
        line("empty_list", 0, "empty_list: set_current_state(TASK_INTERRUPTIBLE);"),
        line("stop", 1, "if (signalled() || kthread_should_stop()) return -EINTR;"),
        line("sleep", 1, "schedule_timeout(msecs_to_jiffies(500));"),
        line("retry", 1, "goto retry;"),
    ],
};

/// 5.13 (f6e70aab9dfe): the array API, and a sleep whenever the array is not full.
pub static ARRAY_SLEEP_ON_SHORTFALL: Listing = Listing {
    source: Source { file: SVC_XPRT, function: "svc_alloc_arg", era: "5.13 (f6e70aab9dfe)" },
    lines: &[
        line("pages", 1, "pages = (serv->sv_max_mesg + 2 * PAGE_SIZE) >> PAGE_SHIFT; /* capped */"),
        line("for", 1, "for (;;) {"),
        line("bulk", 2, "filled = alloc_pages_bulk_array(GFP_KERNEL, pages, rqstp->rq_pages);"),
        line("if_full", 2, "if (filled == pages) break;"),
        line("state", 2, "set_current_state(TASK_INTERRUPTIBLE);"),
        line("stop", 2, "if (signalled() || kthread_should_stop()) return -EINTR;"),
        line("sleep", 2, "schedule_timeout(msecs_to_jiffies(500));"),
        line("end", 1, "} rqstp->rq_page_end = &rqstp->rq_pages[pages]; rqstp->rq_pages[pages] = NULL;"),
        line("arg", 1, "arg->head[0] = page 0; arg->pages = rqstp->rq_pages + 1;"),
        line("len", 1, "arg->page_len = (pages - 2) * PAGE_SIZE; /* one page kept for the reply */"),
        line("return", 1, "return 0;"),
    ],
};

/// NeilBrown's fix as it stands in 6.1: retry at once after progress.
pub static ARRAY_RETRY_ON_PROGRESS: Listing = Listing {
    source: Source { file: SVC_XPRT, function: "svc_alloc_arg", era: "6.1 (retry while the array fills)" },
    lines: &[
        line("pages", 1, "pages = (serv->sv_max_mesg + 2 * PAGE_SIZE) >> PAGE_SHIFT; /* capped */"),
        line("for", 1, "for (filled = 0; filled < pages; filled = ret) {"),
        line("bulk", 2, "ret = alloc_pages_bulk_array(GFP_KERNEL, pages, rqstp->rq_pages);"),
        line("progress", 2, "if (ret > filled) continue; /* it made progress: no sleep yet */"),
        line("state", 2, "set_current_state(TASK_IDLE);"),
        line("stop", 2, "if (kthread_should_stop()) return -EINTR;"),
        line("trace", 2, "trace_svc_alloc_arg_err(pages, ret);"),
        line("sleep", 2, "memalloc_retry_wait(GFP_KERNEL); /* one jiffy */"),
        line("end", 1, "} rqstp->rq_page_end = &rqstp->rq_pages[pages]; rqstp->rq_pages[pages] = NULL;"),
        line("arg", 1, "arg->head[0] = page 0; arg->pages = rqstp->rq_pages + 1;"),
        line("len", 1, "arg->page_len = (pages - 2) * PAGE_SIZE; /* one page kept for the reply */"),
        line("return", 1, "return 0;"),
    ],
};

/// The listing of a form of `svc_alloc_arg()`.
pub fn svc_alloc_arg_listing(form: SvcAllocArg) -> &'static Listing {
    match form {
        SvcAllocArg::PerPage => &PER_PAGE,
        SvcAllocArg::ListRfc => &LIST_RFC,
        SvcAllocArg::ArraySleepOnShortfall => &ARRAY_SLEEP_ON_SHORTFALL,
        SvcAllocArg::ArrayRetryOnProgress => &ARRAY_RETRY_ON_PROGRESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ids_are_unique_within_each_listing() {
        for listing in [&PER_PAGE, &LIST_RFC, &ARRAY_SLEEP_ON_SHORTFALL, &ARRAY_RETRY_ON_PROGRESS] {
            for (i, l) in listing.lines.iter().enumerate() {
                assert_eq!(listing.index_of(l.id), Some(i), "{} in {}", l.id, listing.source.era);
            }
        }
    }
}
