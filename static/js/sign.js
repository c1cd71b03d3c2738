// Drawn signature: signature_pad on a canvas, sent as a PNG data URI in a hidden field.
(function () {
  var canvas = document.getElementById("signature-canvas");
  var input = document.getElementById("signature-input");
  var form = document.getElementById("sign-form");
  if (!canvas || !window.SignaturePad) { return; }
  var pad = new window.SignaturePad(canvas, { penColor: "#000", backgroundColor: "rgba(0,0,0,0)" });
  function resize() {
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    var data = pad.toData();
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    pad.fromData(data);
  }
  window.addEventListener("resize", resize);
  resize();
  document.getElementById("signature-clear").addEventListener("click", function () { pad.clear(); });
  form.addEventListener("submit", function () {
    input.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
  });
})();
