// The runtime's root and the tree's plumbing are not reachable from the facade: cancelling the
// root would break the runtime for good, and a hold or a forced cancel would break the tree.
fn main() {
    let rt = nursery::Runtime::new().unwrap();
    let _root = rt.handle().root();
    let task = rt.handle().spawn(async {});
    let _hold = task.node().hold();
    task.node().cancel_all();
}
