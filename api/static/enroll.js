// Progressive enhancement for the enrollment form: record the selfie with the webcam (MediaRecorder)
// and hand the recording to the ordinary file input, so the same form submit carries it. Without
// JavaScript, a camera or MediaRecorder, the upload field works on its own.
(function () {
  "use strict";
  const box = document.getElementById("webcam");
  const input = document.getElementById("video");
  if (!box || !input || !window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
      typeof DataTransfer === "undefined") {
    return;
  }
  box.hidden = false;
  const start = document.getElementById("cam-start");
  const stop = document.getElementById("cam-stop");
  const preview = document.getElementById("cam-preview");
  const status = document.getElementById("cam-status");
  let recorder = null;
  let stream = null;
  let timer = null;

  function finish() {
    if (recorder && recorder.state === "recording") { recorder.stop(); }
    clearTimeout(timer);
  }

  start.addEventListener("click", async function () {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (err) {
      status.textContent = "The webcam is not available (" + err.name + "). Upload a video instead.";
      return;
    }
    preview.hidden = false;
    preview.controls = false;
    preview.removeAttribute("src");
    preview.srcObject = stream;
    await preview.play();
    const type = ["video/webm;codecs=vp8", "video/webm", "video/mp4"].find(function (t) {
      return MediaRecorder.isTypeSupported(t);
    }) || "";
    const chunks = [];
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    recorder.ondataavailable = function (e) { if (e.data && e.data.size) { chunks.push(e.data); } };
    recorder.onstop = function () {
      stream.getTracks().forEach(function (t) { t.stop(); });
      preview.srcObject = null;
      const mime = recorder.mimeType || "video/webm";
      const ext = mime.indexOf("mp4") >= 0 ? "mp4" : "webm";
      const file = new File(chunks, "selfie." + ext, { type: mime });
      const dt = new DataTransfer();
      dt.items.add(file);
      input.files = dt.files;
      preview.src = URL.createObjectURL(file);  // let the person watch what they are about to send
      preview.controls = true;
      status.textContent = "Recorded " + Math.round(file.size / 1024) + " KiB. Press Enroll to send it.";
      start.hidden = false;
      stop.hidden = true;
    };
    recorder.start(250);
    start.hidden = true;
    stop.hidden = false;
    status.textContent = "Recording: perform the movements above, then press Stop (it stops by itself after 10 s).";
    timer = setTimeout(finish, 10000);
  });
  stop.addEventListener("click", finish);
}());
