// The admin's seat table, live: every two seconds the seats' presence and calls from
// /seats/now.json (online or offline; idle, ringing or talking, and with whom).
"use strict";
(function () {
  var table = document.getElementById("seat-table");
  if (!table || !window.fetch) { return; }
  var words = table.dataset;
  function refresh() {
    fetch(words.states, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        data.seats.forEach(function (seat) {
          var row = table.querySelector('tr[data-seat="' + seat.id + '"]');
          if (!row) { return; }
          row.querySelector(".presence").textContent =
            seat.online === null ? "—" : (seat.online ? words.online : words.offline);
          var call = row.querySelector(".call");
          call.textContent = words[seat.state] || seat.state;
          if (seat.caller) { call.textContent += " · " + seat.caller + " → " + seat.did; }
          row.dataset.state = seat.state;
        });
      })
      .catch(function () { /* the next tick tries again */ });
  }
  refresh();
  window.setInterval(refresh, 2000);
})();
