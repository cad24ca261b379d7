//! HTTP/2 through hyper on nursery: the executor turns hyper's streams and its client's
//! connection driver into tasks of the tree.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use nursery::net::{TcpListener, TcpStream};
use nursery::task::NodeInfo;
use nursery_hyper::{NurseryExecutor, NurseryIo, NurseryTimer};

async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/slow" {
        nursery::time::sleep(Duration::from_millis(200)).await;
    }
    let body = format!("you asked for {}", req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn named<'a>(tree: &'a nursery::TaskTree, name: &str) -> Vec<&'a NodeInfo> {
    tree.nodes
        .iter()
        .map(|(_, n)| n)
        .filter(|n| n.name.as_deref() == Some(name))
        .collect()
}

#[nursery::test(worker_threads = 2)]
async fn concurrent_http2_requests_run_as_stream_tasks_under_their_connection_task() {
    let handle = nursery::Handle::current();
    nursery::scope(|app| async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        app.spawn(nursery::supervised(|connections| async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let connection = hyper::server::conn::http2::Builder::new(
                    NurseryExecutor::current_task().name("h2 stream"),
                )
                .timer(NurseryTimer::new())
                .serve_connection(NurseryIo::new(stream), hyper::service::service_fn(route));
                nursery::task::Builder::new()
                    .name("h2 connection")
                    .spawn_in(&connections, connection);
            }
        }));

        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, connection) =
            hyper::client::conn::http2::Builder::new(NurseryExecutor::new().name("h2 client"))
                .timer(NurseryTimer::new())
                .handshake(NurseryIo::new(stream))
                .await
                .unwrap();
        let client = nursery::spawn(connection);

        // 20 requests at once over the one connection.
        let requests: Vec<_> = (0..20)
            .map(|i| {
                let mut sender = sender.clone();
                nursery::spawn(async move {
                    let path = if i % 2 == 0 { "/slow" } else { "/fast" };
                    let request = Request::get(format!("http://localhost{path}"))
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    let response = sender.send_request(request).await.unwrap();
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(body, format!("you asked for {path}"));
                })
            })
            .collect();

        // While the slow ones are in their handler, look at the tree.
        nursery::time::sleep(Duration::from_millis(100)).await;
        let tree = handle.task_tree();
        let connection = named(&tree, "h2 connection");
        assert_eq!(connection.len(), 1, "{tree}");
        let streams = named(&tree, "h2 stream");
        assert!(
            streams.len() >= 10,
            "the slow streams are live tasks:\n{tree}"
        );
        for stream in &streams {
            assert_eq!(stream.parent, Some(connection[0].id), "{tree}");
        }
        assert!(!named(&tree, "h2 client").is_empty(), "{tree}");

        for request in requests {
            request.await.unwrap();
        }
        drop(sender);
        client.await.unwrap().unwrap();
        app.cancel();
    })
    .await;
}
