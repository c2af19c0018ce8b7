// The seat's screen pop: the page listens to /seat/events (Server-Sent Events) and shows the
// caller as the phone rings, "talking" at the answer with a transfer form, and a note form when
// the call ends.
"use strict";
(function () {
  var pop = document.getElementById("pop");
  if (!pop || !window.EventSource) { return; }
  var words = { ringing: pop.dataset.ringing, talking: pop.dataset.talking, ended: pop.dataset.ended };
  var source = new EventSource(pop.dataset.events);
  function text(id, value) { document.getElementById(id).textContent = value || ""; }
  source.addEventListener("pop", function (message) {
    var data = JSON.parse(message.data);
    pop.hidden = false;
    pop.dataset.state = data.event;
    text("pop-state", words[data.event] || data.event);
    text("pop-caller", data.caller);
    text("pop-area", data.area);
    text("pop-did", data.did);
    var list = document.getElementById("pop-history");
    if (data.event === "ringing") {
      var who = document.getElementById("pop-customer");
      who.replaceChildren();
      if (data.customer) {
        var link = document.createElement("a");
        link.href = who.dataset.url + data.customer.id + "/";
        link.textContent = [data.customer.name, data.customer.company, data.customer.tags]
          .filter(Boolean).join(" · ") || data.caller;
        who.appendChild(link);
        (data.customer.notes || []).forEach(function (note) {
          var line = document.createElement("div");
          line.textContent = note;
          who.appendChild(line);
        });
      }
      list.replaceChildren();
      (data.history || []).forEach(function (call) {
        var item = document.createElement("li");
        item.textContent = new Date(call.start * 1000).toLocaleString() + " · " + call.outcome +
          (call.answered_by ? " · " + call.answered_by : "");
        list.appendChild(item);
      });
    }
    var move = document.getElementById("pop-transfer");
    move.hidden = data.event !== "talking";
    move.elements.call_id.value = data.call_id;
    var note = document.getElementById("pop-note");
    note.hidden = data.event !== "ended";
    note.elements.call_id.value = data.call_id;
    note.elements.did.value = data.did;
    note.elements.caller.value = data.caller;
  });
})();
