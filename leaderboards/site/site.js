// molbench leaderboard site: sortable tables, no dependencies, works from file://.
// Click a column header, or open a page with #sort=COLUMN or #sort=COLUMN:desc.
(function () {
  "use strict";

  function value(row, col, numeric) {
    var text = row.cells[col].getAttribute("data-value");
    if (!numeric) return text;
    return text === "" ? NaN : parseFloat(text);
  }

  function sortTable(table, key, desc) {
    var head = table.tHead.rows[0].cells, col = -1, i;
    for (i = 0; i < head.length; i++) {
      if (head[i].getAttribute("data-key") === key) col = i;
    }
    if (col < 0) return;
    var numeric = head[col].getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, col, numeric), y = value(b, col, numeric), c = 0;
      if (numeric && isNaN(x) !== isNaN(y)) return isNaN(x) ? 1 : -1; // blanks last
      if (numeric && !isNaN(x)) c = x - y;
      if (!numeric) c = x < y ? -1 : x > y ? 1 : 0;
      if (desc) c = -c;
      return c || a.getAttribute("data-rank") - b.getAttribute("data-rank");
    });
    rows.forEach(function (row) { body.appendChild(row); });
    for (i = 0; i < head.length; i++) head[i].removeAttribute("aria-sort");
    head[col].setAttribute("aria-sort", desc ? "descending" : "ascending");
  }

  function sortFromHash() {
    var match = /(?:^#|&)sort=([\w.-]+)(?::(asc|desc))?/.exec(window.location.hash);
    if (!match) return;
    var tables = document.querySelectorAll("table.board");
    for (var i = 0; i < tables.length; i++) sortTable(tables[i], match[1], match[2] === "desc");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var heads = document.querySelectorAll("table.board th[data-key]");
    Array.prototype.forEach.call(heads, function (th) {
      th.addEventListener("click", function () {
        var desc = th.getAttribute("aria-sort") === "ascending";
        window.location.hash = "sort=" + th.getAttribute("data-key") + (desc ? ":desc" : "");
      });
    });
    sortFromHash();
  });
  window.addEventListener("hashchange", sortFromHash);
})();
