//! The driver image under kmdf-host against the loopback, in the same run:
//!
//! * `ioctl_round_trip`: one request through [`Transport::ioctl`], the path
//!   kcomctl takes: `GET_INFO` (no pool work in the driver), and a
//!   `RUN_EXERCISE` of one 16-byte block of `wdk-nonpaged` (one pool
//!   allocation and free in the driver). Through the image that is the I/O
//!   manager's system buffer, the framework's request object, the call into
//!   the image's `EvtIoDeviceControl`, the completion and the copy back;
//!   through the loopback, the core's dispatcher over the same buffer.
//! * `run_all`: every strategy with kcomctl's defaults (10000 blocks of
//!   16..=4096 bytes, seed 1), as `kcomctl --image IMAGE run all` runs them,
//!   without process start and image load.
//!
//! The image comes from a script:
//!
//! ```sh
//! KCOM_SAMPLE_IMAGE=$(bash ci/driver-image.sh --release | tail -n 1) \
//!     cargo bench -p kcomctl --bench image
//! ```

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod bench {
    use std::hint::black_box;
    use std::path::PathBuf;
    use std::time::Duration;

    use criterion::{Criterion, SamplingMode};
    use kcom_sample_core::protocol::{
        IOCTL_KCOM_GET_INFO, IOCTL_KCOM_RUN_EXERCISE, InfoRequest, InfoResponse, RunRequest,
        RunResponse, StrategyId,
    };
    use kcomctl::image::Image;
    use kcomctl::{Client, Loopback, Transport};

    fn image_path() -> PathBuf {
        let path = std::env::var_os("KCOM_SAMPLE_IMAGE")
            .map(PathBuf::from)
            .expect(
                "KCOM_SAMPLE_IMAGE must name the driver image: \
             KCOM_SAMPLE_IMAGE=$(bash ci/driver-image.sh --release | tail -n 1)",
            );
        assert!(path.is_file(), "{} is not a file", path.display());
        path
    }

    fn open_image() -> Image {
        // SAFETY: the project's own driver image (from ci/driver-image.sh),
        // which keeps the contracts of the routines it calls.
        let image = unsafe { Image::open(&image_path(), kmdf_host::Options::default()) };
        image.unwrap_or_else(|e| panic!("{}", e.message))
    }

    /// Closes the image and checks that the host found nothing.
    fn close_clean(image: Image) {
        let closing = Box::new(image).close().expect("the image reports");
        assert!(closing.clean, "{}", closing.report);
    }

    /// One request: its code, its bytes, its reply size.
    struct Call {
        name: &'static str,
        code: u32,
        input: Vec<u8>,
        reply: usize,
    }

    fn calls() -> [Call; 2] {
        let mut info = vec![0u8; InfoRequest::SIZE];
        InfoRequest::new().encode(&mut info).unwrap();
        let mut run = vec![0u8; RunRequest::SIZE];
        RunRequest::new(StrategyId::WdkNonPaged, 1, 16, 16, 1)
            .encode(&mut run)
            .unwrap();
        [
            Call {
                name: "get_info",
                code: IOCTL_KCOM_GET_INFO,
                input: info,
                reply: InfoResponse::SIZE,
            },
            Call {
                name: "run_exercise_one_block",
                code: IOCTL_KCOM_RUN_EXERCISE,
                input: run,
                reply: RunResponse::SIZE,
            },
        ]
    }

    fn round_trip(c: &mut Criterion, transport: &dyn Transport, backend: &str) {
        let mut group = c.benchmark_group("ioctl_round_trip");
        for call in calls() {
            let mut reply = vec![0u8; call.reply];
            group.bench_function(format!("{}/{backend}", call.name), |b| {
                b.iter(|| {
                    let n = transport
                        .ioctl(black_box(call.code), black_box(&call.input), &mut reply)
                        .expect("the request succeeds");
                    assert_eq!(n, call.reply);
                })
            });
        }
        group.finish();
    }

    pub fn bench_round_trip(c: &mut Criterion) {
        let loopback = Loopback::new().expect("the loopback device");
        round_trip(c, &loopback, "loopback");
        let image = open_image();
        round_trip(c, &image, "image");
        close_clean(image);
    }

    /// Every strategy the device offers, with kcomctl's defaults.
    fn run_all<T: Transport>(client: &Client<T>) {
        let info = client.info().expect("GET_INFO");
        for s in &info.strategies {
            let request = RunRequest {
                strategy: s.id,
                ..RunRequest::new(StrategyId::Global, 10_000, 16, 4096, 1)
            };
            let report = client.run(&request).expect("the exercise succeeds");
            assert_eq!(report.outstanding, 0);
        }
    }

    pub fn bench_run_all(c: &mut Criterion) {
        let mut group = c.benchmark_group("run_all");
        // Seconds per iteration: ten samples of one run each.
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(30));
        let loopback = Client::new(Loopback::new().expect("the loopback device"));
        group.bench_function("loopback", |b| b.iter(|| run_all(&loopback)));
        let image = Client::new(open_image());
        group.bench_function("image", |b| b.iter(|| run_all(&image)));
        group.finish();
        close_clean(image.into_transport());
    }

    pub fn config() -> Criterion {
        Criterion::default()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(100)
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
criterion::criterion_group! {
    name = benches;
    config = bench::config();
    targets = bench::bench_round_trip, bench::bench_run_all
}
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
criterion::criterion_main!(benches);

/// The image backend exists on x86_64 Linux only.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn main() {}
