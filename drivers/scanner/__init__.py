"""Code scanners: turning an image (or a camera frame) into the payloads of the codes in it.

- `decode`: still images (`kiosk decode`, `kiosk verify IMAGE`): `decode_frame`, `decode_image`.
- `pipeline`: one camera frame -> payloads (region of interest, grey plane, zxing-cpp, zbar's second
  opinion, de-duplication).
- `sources`: frame sources (OpenCV device / video file / image sequence, Picamera2); `sim`: the
  simulated camera with its faults; `synth`: synthetic frames.
- `camera`: `CameraScanner` (the thread posting `CodeScanned`), `open_camera(config)`, `selftest(config)`.
- `bench`: `bench_cases()` for `kiosk bench`.
"""
