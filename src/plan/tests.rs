//! Tests of the plan: what `up` decides from a fleet file and what it observed in tmux
//! and the registry.

use std::sync::Arc;

use camino::Utf8PathBuf;

use super::*;
use crate::manifest::diagnostic::SourceFile;
use crate::manifest::{LoadOptions, load_source};

const FILE: &str = r#"version = 1
[fleet]
name = "t"
[defaults]
backend = "fake"
[director]
prompt = "lead"
[[member]]
name = "api"
model = "small"
[[member]]
name = "web"
model = "small"
depends_on = ["api"]
"#;

fn fleet(text: &str) -> Fleet {
    let dir = std::env::temp_dir();
    let file = SourceFile {
        path: "fleet.toml".into(),
        text: Arc::from(text),
    };
    let absolute = Utf8PathBuf::from_path_buf(dir.join("fleet.toml")).expect("utf-8 temp dir");
    match load_source(&file, &absolute, &LoadOptions::default()) {
        Ok(fleet) => fleet,
        Err(d) => panic!("{}", d.render(false)),
    }
}

/// Everything in `fleet` running as declared.
fn running(fleet: &Fleet) -> Observed {
    Observed {
        agents: fleet
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| ObservedAgent {
                name: a.name.clone(),
                role: a.role,
                origin: "manifest".into(),
                status: "idle".into(),
                hash: Some(a.hash.clone()),
                spec: Some(a.spec.clone()),
                pane: Some(ObservedPane {
                    id: format!("%{i}"),
                    alive: true,
                    hash: Some(a.hash.clone()),
                }),
            })
            .collect(),
        strays: Vec::new(),
        unreachable: Default::default(),
    }
}

#[test]
fn empty_registry_creates_everything_in_start_order() {
    let f = fleet(FILE);
    let plan = diff(&f, &Observed::default(), &Options::default());
    insta::assert_snapshot!(plan.render(), @r"
    + create director (director): new
    + create api (member): new
    + create web (member): new
    Plan: 3 to create, 0 to recreate, 0 to remove, 0 unchanged.
    ");
    assert!(plan.has_changes());
}

#[test]
fn in_sync_keeps_everything() {
    let f = fleet(FILE);
    let plan = diff(&f, &running(&f), &Options::default());
    insta::assert_snapshot!(plan.render(), @r"
    = keep director (director)
    = keep api (member)
    = keep web (member)
    Plan: 0 to create, 0 to recreate, 0 to remove, 3 unchanged.
    ");
    assert!(!plan.has_changes());
}

#[test]
fn model_change_recreates_only_that_member_and_names_the_field() {
    let before = fleet(FILE);
    let after = fleet(&FILE.replacen(
        "name = \"web\"\nmodel = \"small\"",
        "name = \"web\"\nmodel = \"large\"",
        1,
    ));
    let plan = diff(&after, &running(&before), &Options::default());
    insta::assert_snapshot!(plan.render(), @r"
    = keep director (director)
    = keep api (member)
    ~ recreate web (member) (model: small → large)
    Plan: 0 to create, 1 to recreate, 0 to remove, 2 unchanged.
    ");
    let kept = diff(
        &after,
        &running(&before),
        &Options {
            no_recreate: true,
            ..Options::default()
        },
    );
    assert!(!kept.has_changes(), "{}", kept.render());
}

#[test]
fn director_drift_is_reported_not_applied_unless_asked() {
    let before = fleet(FILE);
    let after = fleet(&FILE.replace("prompt = \"lead\"", "prompt = \"lead well\""));
    let plan = diff(&after, &running(&before), &Options::default());
    insta::assert_snapshot!(plan.render(), @r"
    = keep director (director), drifted (prompt changed); not applied: use --recreate director
    = keep api (member)
    = keep web (member)
    Plan: 0 to create, 0 to recreate, 0 to remove, 3 unchanged.
    ");
    for options in [
        Options {
            recreate: vec!["director".into()],
            ..Options::default()
        },
        Options {
            force_recreate: true,
            ..Options::default()
        },
    ] {
        let plan = diff(&after, &running(&before), &options);
        assert!(
            matches!(plan.steps[0].action, Action::Recreate { .. }),
            "{}",
            plan.render()
        );
    }
}

#[test]
fn dropped_members_are_removed_and_cli_members_are_unmanaged() {
    let before = fleet(FILE);
    let mut observed = running(&before);
    observed.agents.push(ObservedAgent {
        name: "helper".into(),
        role: Role::Member,
        origin: "cli".into(),
        status: "idle".into(),
        hash: None,
        spec: None,
        pane: Some(ObservedPane {
            id: "%9".into(),
            alive: true,
            hash: None,
        }),
    });
    observed.strays.push(StrayPane {
        id: "%12".into(),
        member: "ghost".into(),
        host: None,
    });
    let after = fleet(&FILE.replace(
        "[[member]]\nname = \"web\"\nmodel = \"small\"\ndepends_on = [\"api\"]\n",
        "",
    ));
    let plan = diff(&after, &observed, &Options::default());
    insta::assert_snapshot!(plan.render(), @r"
    - remove web (member): no longer in the fleet file
    ? unmanaged helper (member): added with `cafleet member create`; --remove-orphans removes it
    = keep director (director)
    = keep api (member)
    - remove stray pane %12 tagged `ghost`
    Plan: 0 to create, 0 to recreate, 2 to remove, 3 unchanged.
    ");
    let plan = diff(
        &after,
        &observed,
        &Options {
            remove_orphans: true,
            ..Options::default()
        },
    );
    assert_eq!(plan.summary().remove, 3, "{}", plan.render());
}

#[test]
fn dead_and_missing_panes_are_created_again() {
    let f = fleet(FILE);
    let mut observed = running(&f);
    observed.agents[1].pane.as_mut().expect("pane").alive = false;
    observed.agents[2].pane = None;
    let plan = diff(&f, &observed, &Options::default());
    insta::assert_snapshot!(plan.render(), @r"
    = keep director (director)
    + create api (member): its process exited
    + create web (member): its pane is gone
    Plan: 2 to create, 0 to recreate, 0 to remove, 1 unchanged.
    ");
}

#[test]
fn members_on_an_unreachable_host_are_skipped_and_said() {
    let text = FILE.replace(
        "name = \"web\"\nmodel = \"small\"\n",
        "name = \"web\"\nmodel = \"small\"\nhost = \"gpu-box\"\n",
    );
    let f = fleet(&text);
    assert_eq!(
        f.agent("web").unwrap().spec.host.as_deref(),
        Some("gpu-box")
    );
    // A host on the member leaves the other agents' hashes as they were.
    assert_eq!(
        f.agent("api").unwrap().hash,
        fleet(FILE).agent("api").unwrap().hash
    );
    let mut observed = Observed::default();
    observed
        .unreachable
        .insert("gpu-box".into(), "Connection refused".into());
    let plan = diff(&f, &observed, &Options::default());
    insta::assert_snapshot!(plan.render(), @r"
    + create director (director): new
    + create api (member): new
    + create web (member) on gpu-box: new
    ! host gpu-box is unreachable (skipped: web): Connection refused
    Plan: 3 to create, 0 to recreate, 0 to remove, 0 unchanged.
    ");
    let blocked: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.blocked_by(&plan).is_some())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(blocked, ["web"]);
    // Moving a member to another host is a change the plan names.
    let mut running = running(&fleet(FILE));
    running.unreachable.clear();
    let plan = diff(&f, &running, &Options::default());
    let web = plan.steps.iter().find(|s| s.name == "web").unwrap();
    assert_eq!(
        web.action,
        Action::Recreate {
            changes: vec!["host: (this machine) → gpu-box".into()]
        }
    );
}

#[test]
fn hosts_that_ssh_could_read_as_options_are_refused() {
    for bad in ["-oProxyCommand=sh", "box; id", "a b", "$(id)"] {
        let text = FILE.replace(
            "name = \"web\"\nmodel = \"small\"\n",
            &format!("name = \"web\"\nmodel = \"small\"\nhost = {bad:?}\n"),
        );
        let file = SourceFile {
            path: "fleet.toml".into(),
            text: Arc::from(text.as_str()),
        };
        let absolute = Utf8PathBuf::from_path_buf(std::env::temp_dir().join("fleet.toml"))
            .expect("utf-8 temp dir");
        let err = load_source(&file, &absolute, &LoadOptions::default())
            .err()
            .unwrap_or_else(|| panic!("host {bad:?} was accepted"));
        assert!(err.render(false).contains("host"), "{}", err.render(false));
    }
}
