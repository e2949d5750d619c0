// syndicate portal: client-side search over the site's own JSON index (no requests elsewhere).
(function () {
  "use strict";
  var status = document.getElementById("search-status");
  var list = document.getElementById("results");
  var input = document.getElementById("q");
  var query = (new URLSearchParams(window.location.search).get("q") || "").trim();
  if (input) { input.value = query; }
  if (!query) { return; }
  var words = query.toLowerCase().split(/\s+/).filter(Boolean);
  function matches(row) {
    var text = [row.title, row.agency, row.index_no, row.doc_no || "", row.summary].join(" ").toLowerCase();
    return words.every(function (w) { return text.indexOf(w) !== -1; });
  }
  function show(rows) {
    status.textContent = rows.length ? "找到 " + rows.length + " 条与“" + query + "”相关的信息。" : "没有找到与“" + query + "”相关的信息。";
    rows.slice(0, 200).forEach(function (row) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = row.url;
      a.textContent = row.title;
      var meta = document.createElement("p");
      meta.className = "hash";
      meta.textContent = row.agency + " · " + row.date + " · 索引号 " + row.index_no;
      li.appendChild(a);
      li.appendChild(meta);
      list.appendChild(li);
    });
  }
  status.textContent = "正在搜索……";
  fetch("search/index.json").then(function (r) { return r.json(); }).then(function (index) {
    return Promise.all(index.months.map(function (m) {
      return fetch("search/" + m + ".json").then(function (r) { return r.json(); });
    }));
  }).then(function (shards) {
    var found = [];
    shards.forEach(function (rows) { rows.forEach(function (row) { if (matches(row)) { found.push(row); } }); });
    show(found);
  }).catch(function () {
    status.textContent = "搜索暂不可用，请稍后再试。";
  });
}());
