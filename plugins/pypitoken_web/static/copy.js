// Copy buttons of the token page. Without JavaScript the buttons stay hidden and the
// token can be selected and copied by hand; nothing else on the page needs a script.
"use strict";

function copyText(source) {
  return source.value !== undefined ? source.value : source.textContent;
}

function selectSource(source) {
  if (source.select) {
    source.focus();
    source.select();
    return;
  }
  var range = document.createRange();
  range.selectNodeContents(source);
  var selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function say(button, text) {
  var status = document.getElementById(button.dataset.status);
  if (status) {
    status.textContent = text;
  }
}

function copy(button) {
  var source = document.getElementById(button.dataset.copy);
  if (!source) {
    return;
  }
  var text = copyText(source);
  function fallback() {
    // Outside a secure context (http to another host) there is no clipboard API:
    // select the text and use the older command, or ask the user to copy it.
    selectSource(source);
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (e) {
      copied = false;
    }
    say(button, copied ? "Copied." : "Selected: press Ctrl+C (or Cmd+C) to copy.");
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () {
      say(button, "Copied.");
    }, fallback);
  } else {
    fallback();
  }
}

document.addEventListener("DOMContentLoaded", function () {
  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i++) {
    var button = buttons[i];
    button.hidden = false;
    button.addEventListener("click", copy.bind(null, button));
  }
});
