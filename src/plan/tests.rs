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
