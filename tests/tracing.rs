//! The `tracing` feature: a span per task and per scope, parented like the task tree and
//! entered on every poll; events for failures, cancellations and how scopes end.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use nursery::task::Builder;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug)]
struct SpanRecord {
    name: &'static str,
    /// Index of the parent span in `Recorded::spans`.
    parent: Option<usize>,
    fields: HashMap<String, String>,
    entered_on: HashSet<ThreadId>,
    enters: usize,
    closed: bool,
}

#[derive(Debug)]
struct EventRecord {
    level: Level,
    /// Index of the span the event belongs to.
    span: Option<usize>,
    fields: HashMap<String, String>,
}

#[derive(Default)]
struct Recorded {
    spans: Vec<SpanRecord>,
    events: Vec<EventRecord>,
    /// Live span ids (the registry reuses them once closed) to indexes in `spans`.
    live: HashMap<u64, usize>,
}

impl Recorded {
    fn tasks_named(&self, name: &str) -> Vec<usize> {
        (0..self.spans.len())
            .filter(|&i| self.spans[i].name == "task" && self.field(i, "name") == Some(name))
            .collect()
    }

    /// The one task span with this name.
    fn task(&self, name: &str) -> usize {
        let found = self.tasks_named(name);
        assert_eq!(
            found.len(),
            1,
            "one span for task '{name}': {:#?}",
            self.spans
        );
        found[0]
    }

    fn field(&self, span: usize, name: &str) -> Option<&str> {
        self.spans[span].fields.get(name).map(String::as_str)
    }

    fn events_on(&self, span: usize) -> Vec<&EventRecord> {
        self.events
            .iter()
            .filter(|e| e.span == Some(span))
            .collect()
    }

    /// The first event on `span` with `message`; panics (printing every event) if none.
    fn event(&self, span: usize, message: &str) -> &EventRecord {
        self.events_on(span)
            .into_iter()
            .find(|e| e.fields.get("message").map(String::as_str) == Some(message))
            .unwrap_or_else(|| panic!("no {message:?} event: {:#?}", self.events))
    }

    /// Field `name` of the first event on `span` with `message`.
    fn event_field(&self, span: usize, message: &str, name: &str) -> Option<&str> {
        self.event(span, message)
            .fields
            .get(name)
            .map(String::as_str)
    }

    fn has_event(&self, span: usize, level: Level, message: &str) -> bool {
        self.events_on(span).iter().any(|e| {
            e.level == level && e.fields.get("message").map(String::as_str) == Some(message)
        })
    }
}

struct FieldsOf<'a>(&'a mut HashMap<String, String>);

impl Visit for FieldsOf<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

struct Recorder(Arc<Mutex<Recorded>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = HashMap::new();
        attrs.record(&mut FieldsOf(&mut fields));
        let parent_id = ctx.span(id).and_then(|s| s.parent()).map(|p| p.id());
        let mut rec = lock(&self.0);
        let parent = parent_id.and_then(|p| rec.live.get(&p.into_u64()).copied());
        let index = rec.spans.len();
        rec.spans.push(SpanRecord {
            name: attrs.metadata().name(),
            parent,
            fields,
            entered_on: HashSet::new(),
            enters: 0,
            closed: false,
        });
        rec.live.insert(id.into_u64(), index);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut rec = lock(&self.0);
        if let Some(&i) = rec.live.get(&id.into_u64()) {
            values.record(&mut FieldsOf(&mut rec.spans[i].fields));
        }
    }

    fn on_enter(&self, id: &Id, _: Context<'_, S>) {
        let mut rec = lock(&self.0);
        if let Some(&i) = rec.live.get(&id.into_u64()) {
            rec.spans[i].entered_on.insert(thread::current().id());
            rec.spans[i].enters += 1;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = HashMap::new();
        event.record(&mut FieldsOf(&mut fields));
        let span_id = ctx.event_span(event).map(|s| s.id());
        let mut rec = lock(&self.0);
        let span = span_id.and_then(|id| rec.live.get(&id.into_u64()).copied());
        rec.events.push(EventRecord {
            level: *event.metadata().level(),
            span,
            fields,
        });
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        let mut rec = lock(&self.0);
        if let Some(i) = rec.live.remove(&id.into_u64()) {
            rec.spans[i].closed = true;
        }
    }
}

/// Locks past a poisoning: one failed test must not fail the others.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The recorder, installed as the global subscriber (worker threads must see it), and held by
/// one test at a time: each test starts from an empty record.
fn recorder() -> (MutexGuard<'static, ()>, Arc<Mutex<Recorded>>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    static RECORDED: OnceLock<Arc<Mutex<Recorded>>> = OnceLock::new();
    let turn = lock(&ONE_AT_A_TIME);
    let recorded = RECORDED.get_or_init(|| {
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let subscriber = tracing_subscriber::registry().with(Recorder(recorded.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        recorded
    });
    *lock(recorded) = Recorded::default();
    (turn, recorded.clone())
}

fn runtime(workers: usize) -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(workers)
        .build()
        .unwrap()
}

#[test]
fn a_task_spawned_in_a_scope_hangs_under_the_scope_span_under_the_spawning_task() {
    let (_turn, recorded) = recorder();
    let rt = runtime(2);
    let ids = rt.block_on(async {
        let outer = Builder::new().name("outer").spawn(async {
            nursery::scope(|s| async move {
                let scope_id = s.node().id();
                let inner = Builder::new().name("inner").spawn_in(&s, async {});
                inner.await.unwrap();
                // A sibling spawning through the scope's handle: the child is the scope's,
                // not the sibling's.
                let handle = s.clone();
                let sibling = Builder::new().name("sibling").spawn_in(&s, async move {
                    let via = Builder::new()
                        .name("via-handle")
                        .spawn_in(&handle, async {});
                    via.await.unwrap();
                });
                sibling.await.unwrap();
                scope_id
            })
            .await
        });
        let outer_id = outer.id();
        (outer_id, outer.await.unwrap())
    });
    drop(rt);
    let (outer_id, scope_id) = ids;
    let rec = lock(&recorded);
    let outer = rec.task("outer");
    let inner = rec.task("inner");
    let scope = rec.spans[inner].parent.expect("the task span has a parent");
    assert_eq!(rec.spans[scope].name, "scope", "{:#?}", rec.spans[scope]);
    assert_eq!(
        rec.spans[scope].parent,
        Some(outer),
        "{:#?}",
        rec.spans[scope]
    );
    assert_eq!(rec.field(scope, "id"), Some(&*scope_id.to_string()));
    assert_eq!(rec.field(scope, "kind"), Some("scope"));
    assert_eq!(rec.field(scope, "parent_id"), Some(&*outer_id.to_string()));
    assert_eq!(rec.field(inner, "parent_id"), Some(&*scope_id.to_string()));
    let via = rec.task("via-handle");
    assert_eq!(rec.spans[via].parent, Some(scope), "{:#?}", rec.spans[via]);
    assert!(rec.spans.iter().all(|s| s.closed), "every span is closed");
    assert!(rec.has_event(scope, Level::DEBUG, "scope finished"));
}

#[test]
fn a_named_task_span_has_its_name_id_kind_and_spawn_location() {
    let (_turn, recorded) = recorder();
    let rt = runtime(1);
    let (outer_id, located_id, line) = rt.block_on(async {
        let outer = nursery::spawn(async {
            let line = line!() + 1;
            let located = Builder::new().name("located").spawn(async {});
            let id = located.id();
            located.await.unwrap();
            (id, line)
        });
        let outer_id = outer.id();
        let (id, line) = outer.await.unwrap();
        (outer_id, id, line)
    });
    drop(rt);
    let rec = lock(&recorded);
    let located = rec.task("located");
    let location = rec.field(located, "location").expect("a location");
    assert!(
        location.starts_with(&format!("{}:{line}:", file!())),
        "{location} is not at line {line} of {}",
        file!()
    );
    assert_eq!(rec.field(located, "id"), Some(&*located_id.to_string()));
    assert_eq!(
        rec.field(located, "parent_id"),
        Some(&*outer_id.to_string())
    );
    assert_eq!(rec.field(located, "kind"), Some("task"));
    let outer = rec.spans[located].parent.expect("a parent span");
    assert_eq!(rec.field(outer, "id"), Some(&*outer_id.to_string()));
    assert_eq!(
        rec.field(outer, "name"),
        None,
        "an unnamed task has no name field"
    );
}

#[test]
fn a_task_span_is_entered_on_every_poll_on_whichever_worker_runs_it() {
    let (_turn, recorded) = recorder();
    let rt = runtime(4);
    let (ran_on, polls) = rt.block_on(async {
        Builder::new()
            .name("mover")
            .spawn(async {
                let mut ran_on = HashSet::new();
                let mut polls = 1;
                let give_up = Instant::now() + Duration::from_secs(10);
                let first = thread::current().id();
                ran_on.insert(first);
                while ran_on.len() < 2 && Instant::now() < give_up {
                    // A child that keeps this worker busy (a long poll) until the task has
                    // moved: an idle worker steals the task once it yields.
                    let moved = Arc::new(AtomicBool::new(false));
                    let seen = moved.clone();
                    let hog = nursery::spawn(async move {
                        let until = Instant::now() + Duration::from_secs(1);
                        while !seen.load(SeqCst) && Instant::now() < until {
                            thread::sleep(Duration::from_millis(1));
                        }
                    });
                    nursery::task::yield_now().await;
                    polls += 1;
                    ran_on.insert(thread::current().id());
                    moved.store(true, SeqCst);
                    hog.await.unwrap();
                    polls += 1;
                }
                (ran_on, polls)
            })
            .await
            .unwrap()
    });
    drop(rt);
    assert!(ran_on.len() >= 2, "the task never moved to another worker");
    let rec = lock(&recorded);
    let mover = &rec.spans[rec.task("mover")];
    assert!(
        ran_on.is_subset(&mover.entered_on),
        "ran on {ran_on:?}, span entered on {:?}",
        mover.entered_on
    );
    assert!(
        mover.enters >= polls,
        "{} enters for {polls} polls",
        mover.enters
    );
}

#[test]
fn a_failing_child_gets_a_failure_event_on_its_span_and_its_scope_says_why_it_stopped() {
    let (_turn, recorded) = recorder();
    let rt = runtime(2);
    // Supervised: the failure stops at the owner's handle instead of failing `block_on`.
    rt.block_on(nursery::supervised(|top| async move {
        let owner = Builder::new().name("owner").spawn_in(&top, async {
            nursery::scope(|s| async move {
                Builder::new()
                    .name("crasher")
                    .spawn_in(&s, async { panic!("boom in the child") });
                std::future::pending::<()>().await;
            })
            .await
        });
        assert!(owner.await.unwrap_err().is_panic());
    }));
    drop(rt);
    let rec = lock(&recorded);
    let crasher = rec.task("crasher");
    let failure = rec.event(crasher, "task failed");
    assert_eq!(failure.level, Level::WARN);
    assert_eq!(
        failure.fields.get("panic").map(String::as_str),
        Some("boom in the child")
    );
    let scope = rec.spans[crasher].parent.expect("the scope's span");
    assert_eq!(
        rec.event_field(scope, "scope cancelled", "reason"),
        Some("a child failed")
    );
    assert_eq!(
        rec.event_field(scope, "scope finished", "outcome"),
        Some("failed")
    );
    // The panic travels up: the task awaiting the scope fails with it.
    assert!(rec.has_event(rec.task("owner"), Level::WARN, "task failed"));
}

#[test]
fn a_cancelled_task_gets_a_cancellation_event_on_its_span() {
    let (_turn, recorded) = recorder();
    let rt = runtime(2);
    rt.block_on(async {
        let (started_tx, started_rx) = oneshot::channel();
        let victim = Builder::new().name("victim").spawn(async move {
            let _ = started_tx.send(());
            std::future::pending::<()>().await;
        });
        started_rx.await.unwrap();
        victim.cancel();
        assert!(victim.await.unwrap_err().is_cancelled());
        // A deadline cancels the scope's children.
        nursery::move_on_after(Duration::from_millis(20), |s| async move {
            Builder::new()
                .name("late")
                .spawn_in(&s, std::future::pending::<()>());
            std::future::pending::<()>().await;
        })
        .await;
        let done = Builder::new().name("done").spawn(async {});
        done.await.unwrap();
    });
    drop(rt);
    let rec = lock(&recorded);
    let victim = rec.task("victim");
    assert!(
        rec.has_event(victim, Level::DEBUG, "task cancelled"),
        "{:#?}",
        rec.events
    );
    let late = rec.task("late");
    assert!(rec.has_event(late, Level::DEBUG, "task cancelled"));
    let scope = rec.spans[late].parent.expect("the scope's span");
    assert_eq!(rec.field(scope, "kind"), Some("move_on"));
    assert_eq!(
        rec.event_field(scope, "scope cancelled", "reason"),
        Some("deadline")
    );
    // A task that finished is not reported cancelled.
    assert!(!rec.has_event(rec.task("done"), Level::DEBUG, "task cancelled"));
}
