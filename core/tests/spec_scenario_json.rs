//! How scenario files read their actions: each `op`'s required fields, the defaults of the rest,
//! and errors that name the action and say what serde would say.

use pageflow_core::scenario::ScenarioError;
use pageflow_core::users::page_pool::PoolConfig;
use pageflow_core::users::sunrpc::{Rpc, DEFAULT_SLEEP_BUDGET, RPCSVC_MAXPAYLOAD};
use pageflow_core::{Action, BulkTarget, Scenario};

/// The actions of a scenario file with these actions, or its parse error.
fn read(actions: &str) -> Result<Vec<Action>, String> {
    let text = format!("{{\"name\": \"t\", \"description\": \"d\", \"actions\": [\n{actions}\n]}}");
    match Scenario::from_json(&text) {
        Ok(s) => Ok(s.actions),
        Err(ScenarioError::Parse(m)) => Err(m),
        Err(other) => panic!("{actions}: not a parse error: {other}"),
    }
}

/// One action read on its own.
fn one(action: &str) -> Action {
    serde_json::from_str(action).unwrap_or_else(|e| panic!("{action}: {e}"))
}

#[test]
fn an_action_with_only_its_required_fields_takes_the_documented_defaults() {
    let pages = || "pages".to_owned();
    let cases = [
        (
            r#"{"op": "alloc_pages", "gfp": "GFP_KERNEL"}"#,
            Action::AllocPages {
                cpu: 0,
                gfp: "GFP_KERNEL".into(),
                order: 0,
                into: pages(),
                count: 1,
                burst: false,
            },
        ),
        (
            r#"{"op": "alloc_pages_bulk", "gfp": "GFP_KERNEL", "nr_pages": 16, "target": "array"}"#,
            Action::AllocPagesBulk {
                cpu: 0,
                gfp: "GFP_KERNEL".into(),
                nr_pages: 16,
                target: BulkTarget::Array,
                into: pages(),
            },
        ),
        (
            r#"{"op": "free", "from": "rx"}"#,
            Action::Free { cpu: 0, from: "rx".into(), slots: None, count: None },
        ),
        (r#"{"op": "free_pfn", "pfn": 7}"#, Action::FreePfn { cpu: 0, pfn: 7, order: 0, from: pages() }),
        (r#"{"op": "drain"}"#, Action::Drain { cpu: None }),
        (r#"{"op": "page_cache", "pages": 9}"#, Action::PageCache { cpu: 0, pages: 9 }),
        (r#"{"op": "random", "ops": 5}"#, Action::Random { ops: 5, seed: None }),
        (
            r#"{"op": "sunrpc", "threads": 2}"#,
            Action::Sunrpc {
                threads: 2,
                payload_kib: RPCSVC_MAXPAYLOAD >> 10,
                svc_alloc_arg: None,
                splice: false,
                sleep_budget: DEFAULT_SLEEP_BUDGET,
                tx_completion_cpu: None,
                rpcs: vec![],
                random: None,
                compare_profiles: false,
            },
        ),
        (
            r#"{"op": "page_pool", "polls": 3}"#,
            Action::PagePool { pool: PoolConfig::default(), polls: 3, budget: 64 },
        ),
    ];
    for (text, action) in cases {
        assert_eq!(one(text), action, "{text}");
    }
}

#[test]
fn every_field_given_is_read_and_null_is_none_for_an_optional_one() {
    assert_eq!(
        one(r#"{"op": "free", "cpu": 1, "from": "rx", "slots": [0, 2], "count": null}"#),
        Action::Free { cpu: 1, from: "rx".into(), slots: Some(vec![0, 2]), count: None }
    );
    assert_eq!(one(r#"{"cpu": 3, "op": "drain"}"#), Action::Drain { cpu: Some(3) }, "the tag may come last");
    let Action::Sunrpc { rpcs, splice, .. } =
        one(r#"{"op": "sunrpc", "threads": 1, "splice": true, "rpcs": [{"proc": "read", "kib": 8}]}"#)
    else {
        panic!("a sunrpc action")
    };
    assert_eq!((rpcs, splice), (vec![Rpc::Read { kib: 8 }], true));
}

#[test]
fn a_bad_action_is_refused_naming_its_index_and_what_is_wrong() {
    let ok = r#"{"op": "drain"}"#;
    let cases = [
        (r#"{"op": "alloc_pages"}"#, "actions[1]: missing field `gfp`"),
        (r#"{"op": "drain", "cpu": 1, "colour": 2}"#, "actions[1]: unknown field `colour`, expected `cpu`"),
        (
            r#"{"op": "dance"}"#,
            "actions[1]: unknown variant `dance`, expected one of `alloc_pages`, `alloc_pages_bulk`",
        ),
        (r#"{"cpu": 1}"#, "actions[1]: missing field `op`"),
        (r#"{"op": 7}"#, "actions[1]: invalid type: number, expected a variant name"),
        (r#"{"op": "drain", "cpu": "x"}"#, "actions[1]: invalid type: string \"x\", expected u16"),
        (r#"{"op": "page_cache", "pages": 1, "pages": 2}"#, "actions[1]: duplicate field `pages`"),
        (r#"{"op": "sunrpc", "threads": 1, "rpcs": [{"proc": "read"}]}"#, "actions[1]: missing field `kib`"),
        ("5", "actions[1]: invalid type: integer `5`, expected an object"),
    ];
    for (bad, message) in cases {
        let e = read(&format!("{ok},\n{bad}")).expect_err(bad);
        assert!(e.starts_with(message), "{bad}: {e}");
        assert!(e.contains(" at line "), "{bad}: serde_json places the error: {e}");
    }
}

#[test]
fn every_committed_scenario_reads_back_the_actions_it_writes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("scenarios/") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("readable");
        let s = Scenario::from_json(&text).expect("a committed scenario");
        assert_eq!(Scenario::from_json(&s.to_json()).expect("its own JSON").actions, s.actions);
        n += 1;
    }
    assert!(n >= 10, "{n} scenarios");
}
