/* The listening page of openunmix.compare: sortable tables, one player at a time, cursors that follow
   the playing audio, and A/B buttons that switch players at the same position. Plain JavaScript, no
   dependencies, nothing loaded from the network. */
(function () {
  "use strict";

  // ---- sortable tables: click (or Enter on) a column header; numbers sort by their data-sort value
  function cellKey(cell, numeric) {
    var text = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (!numeric) { return text.toLowerCase(); }
    var value = parseFloat(text);
    return isNaN(value) ? null : value;
  }

  function sortTable(table, column, header) {
    var numeric = header.getAttribute("data-type") === "number";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a.cells[column], numeric), y = cellKey(b.cells[column], numeric);
      if (x === y) { return 0; }
      if (x === null) { return 1; }  // missing values last either way
      if (y === null) { return -1; }
      return (x < y ? -1 : 1) * (ascending ? 1 : -1);
    });
    Array.prototype.forEach.call(header.parentNode.cells, function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.forEach(function (row) { body.appendChild(row); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.tabIndex = 0;
      header.addEventListener("click", function () { sortTable(table, column, header); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortTable(table, column, header); }
      });
    });
  });

  // ---- players, cursors and A/B switching (track pages)
  var players = Array.prototype.slice.call(document.querySelectorAll("audio"));
  var cursors = Array.prototype.slice.call(document.querySelectorAll("[data-cursor]"));
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button[data-player]"));
  var duration = parseFloat(document.body.getAttribute("data-duration")) || 0;
  var active = players.length ? players[0] : null;
  var frame = 0;

  function showTime(time) {
    var length = duration || (active && active.duration) || 0;
    var fraction = length > 0 ? Math.min(Math.max(time / length, 0), 1) : 0;
    cursors.forEach(function (cursor) {
      if (cursor.tagName.toLowerCase() === "line") {
        var x = (fraction * 1000).toFixed(2);
        cursor.setAttribute("x1", x);
        cursor.setAttribute("x2", x);
      } else {
        cursor.style.left = (fraction * 100).toFixed(3) + "%";
      }
    });
  }

  function follow() {
    showTime(active.currentTime);
    frame = active.paused ? 0 : window.requestAnimationFrame(follow);
  }

  function activate(player) {
    active = player;
    players.forEach(function (p) { p.closest(".player").classList.toggle("active", p === player); });
    buttons.forEach(function (b) { b.classList.toggle("on", b.getAttribute("data-player") === player.id); });
  }

  function quietly(promise) {  // play() rejects when a pause interrupts it: not an error here
    if (promise && typeof promise.catch === "function") { promise.catch(function () {}); }
  }

  // A static server that does not answer range requests (python -m http.server) leaves an audio element
  // unseekable, with an estimated duration: such a file is fetched whole, once, and played from memory.
  function makeSeekable(player) {
    if (player.hasAttribute("data-whole") || !/^https?:$/.test(window.location.protocol) || !window.fetch) { return; }
    if (player.seekable.length && player.seekable.end(0) > 0) { return; }
    player.setAttribute("data-whole", "loading");
    window.fetch(player.currentSrc).then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.blob();
    }).then(function (blob) {
      var time = player.currentTime, playing = !player.paused;
      player.addEventListener("loadedmetadata", function restore() {
        player.removeEventListener("loadedmetadata", restore);
        var wanted = parseFloat(player.getAttribute("data-wanted"));
        player.removeAttribute("data-wanted");
        player.currentTime = isNaN(wanted) ? time : wanted;
        if (playing) { quietly(player.play()); }
        player.setAttribute("data-whole", "yes");
      });
      player.src = window.URL.createObjectURL(blob);
    }).catch(function () { player.setAttribute("data-whole", "failed"); });
  }

  players.forEach(function (player) {
    player.addEventListener("loadedmetadata", function () { makeSeekable(player); });
    if (player.readyState >= 1) { makeSeekable(player); }
    player.addEventListener("play", function () {
      players.forEach(function (other) { if (other !== player && !other.paused) { other.pause(); } });
      activate(player);
      if (frame) { window.cancelAnimationFrame(frame); }
      follow();
    });
    player.addEventListener("seeking", function () { activate(player); showTime(player.currentTime); });
    ["timeupdate", "seeked", "pause"].forEach(function (name) {
      player.addEventListener(name, function () { if (player === active) { showTime(player.currentTime); } });
    });
  });

  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-player"));
      if (!target || !active || target === active) { return; }
      var time = active.currentTime, playing = !active.paused;
      active.pause();
      activate(target);
      if (target.getAttribute("data-whole") === "loading") { target.setAttribute("data-wanted", time); }
      target.currentTime = time;
      if (playing) { quietly(target.play()); }
      showTime(time);
    });
  });

  if (active) { activate(active); }
}());
