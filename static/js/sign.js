// Drawn signature: signature_pad on a canvas, sent as a PNG data URI in a hidden field.
(function () {
  var canvas = document.getElementById("signature-canvas");
  var input = document.getElementById("signature-input");
  var form = document.getElementById("sign-form");
  if (!canvas || !window.SignaturePad) { return; }
  var pad = new window.SignaturePad(canvas, { penColor: "#000", backgroundColor: "rgba(0,0,0,0)" });
  function resize() {
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.redraw();  // what was drawn (strokes and a restored image) survives the resize
  }
  window.addEventListener("resize", resize);
  resize();
  // Back on the page after an error (a mistyped name): keep the signature already drawn.
  if (input.value) {
    pad.fromDataURL(input.value, { ratio: 1, width: canvas.offsetWidth, height: canvas.offsetHeight });
  }
  document.getElementById("signature-clear").addEventListener("click", function () { pad.clear(); });
  form.addEventListener("submit", function () {
    input.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
  });
})();
