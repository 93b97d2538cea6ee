// Searches search/<lang>.json in the browser: no server. Words are folded as the
// site's index folds them (sijil.text.search): Arabic letter variants, vowel marks
// and tatweel gone, a leading "and" and the article with its preposition taken
// off; a Latin word is tried as written, as its transliteration key, and without
// its common English endings. A document must have every word.
"use strict";
(function () {
  var form = document.getElementById("search");
  if (!form || !window.fetch) { return; }
  var input = document.getElementById("q");
  var hits = document.getElementById("hits");
  var base = form.getAttribute("data-base");
  var index = null;
  var PREFIXES = ["\u0648\u0627\u0644", "\u0628\u0627\u0644", "\u0643\u0627\u0644", "\u0641\u0627\u0644", "\u0644\u0644", "\u0627\u0644"];
  var LETTERS = { "\u0622": "\u0627", "\u0623": "\u0627", "\u0625": "\u0627", "\u0671": "\u0627", "\u0672": "\u0627", "\u0673": "\u0627",
    "\u0649": "\u064a", "\u06cc": "\u064a", "\u0629": "\u0647", "\u06a9": "\u0643" };
  function fold(text) {
    text = text.normalize("NFKC").toLowerCase().normalize("NFKD");
    text = text.replace(/[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, "");
    text = text.replace(/[\u0622\u0623\u0625\u0671\u0672\u0673\u0649\u06cc\u0629\u06a9]/g, function (c) { return LETTERS[c]; });
    text = text.replace(/[\u0660-\u0669]/g, function (c) { return String(c.charCodeAt(0) - 0x660); });
    text = text.replace(/[\u06f0-\u06f9]/g, function (c) { return String(c.charCodeAt(0) - 0x6f0); });
    return text.normalize("NFKC").replace(/['`\u00b4\u2018\u2019]/g, "");
  }
  function arabicKey(word) {
    if (word.length > 3 && word.charAt(0) === "\u0648") { word = word.slice(1); }
    for (var i = 0; i < PREFIXES.length; i++) {
      if (word.indexOf(PREFIXES[i]) === 0 && word.length - PREFIXES[i].length >= 2) { return word.slice(PREFIXES[i].length); }
    }
    return word;
  }
  function latinKey(word) {
    word = word.replace(/([a-z])\1+/g, "$1").replace(/ou/g, "u");
    if (word.length > 3 && /[aeiou]h$/.test(word)) { word = word.slice(0, -1); }
    if (word.length > 3 && /e$/.test(word)) { word = word.slice(0, -1) + "a"; }
    return word;
  }
  function keysOf(word) {
    if (/[\u0600-\u06ff]/.test(word)) {
      var keys = [arabicKey(word), word];
      if (word.length === 3 && word.charAt(0) === "\u0648") { keys.push(word.slice(1)); }
      return keys;
    }
    if (/^[a-z]+$/.test(word)) {
      var out = [word, latinKey(word)];
      [/ing$/, /ed$/, /es$/, /s$/, /ly$/].forEach(function (end) {
        if (end.test(word) && word.length > 4) { out.push(word.replace(end, "")); }
      });
      if (word.length > 4 && /ies$/.test(word)) { out.push(word.replace(/ies$/, "i")); }
      return out;
    }
    return [word];
  }
  function lookup(word) {
    var found = {};
    keysOf(word).forEach(function (key) {
      (index.keys[key] || []).forEach(function (id) { found[id] = true; });
    });
    return found;
  }
  function show(query) {
    while (hits.firstChild) { hits.removeChild(hits.firstChild); }
    var words = (fold(query).match(/[\p{L}\p{N}]+/gu) || []).slice(0, 12);
    if (!words.length) { return; }
    var result = null;
    words.forEach(function (word) {
      var found = lookup(word);
      if (result === null) { result = found; return; }
      Object.keys(result).forEach(function (id) { if (!found[id]) { delete result[id]; } });
    });
    var ids = Object.keys(result).map(Number).sort(function (a, b) { return b - a; }).slice(0, 100);
    ids.forEach(function (id) {
      var doc = index.docs[id];
      if (!doc) { return; }
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = base + doc[0];
      a.textContent = doc[1];
      li.appendChild(a);
      li.appendChild(document.createTextNode(" " + doc[2]));
      hits.appendChild(li);
    });
    hits.setAttribute("data-count", String(ids.length));
  }
  function run(query) {
    if (index) { show(query); return; }
    fetch(form.getAttribute("data-index")).then(function (r) { return r.json(); })
      .then(function (data) { index = data; show(query); })
      .catch(function () { hits.setAttribute("data-count", "error"); });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var query = input.value;
    history.replaceState(null, "", "?q=" + encodeURIComponent(query));
    run(query);
  });
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) { input.value = initial; run(initial); }
})();
