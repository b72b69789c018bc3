// Progressive enhancement: a file dropped anywhere on a .dropzone goes into its file input.
// Without JavaScript the file input works on its own (and browsers accept drops onto it directly).
(function () {
  "use strict";
  document.querySelectorAll(".dropzone").forEach(function (zone) {
    const input = zone.querySelector("input[type=file]");
    if (!input || typeof DataTransfer === "undefined") { return; }
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      if (!e.dataTransfer || !e.dataTransfer.files.length) { return; }
      const dt = new DataTransfer();
      dt.items.add(e.dataTransfer.files[0]);
      input.files = dt.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });
}());
