// Select2 (the admin forms' search-select boxes) in the user's language. Flask-AppBuilder's ab.js
// starts them on page ready with English texts ("Select a State", "No results found"); this file
// loads after it, so its ready handler runs after ab.js's and starts them again with the texts
// the page rendered through the translation catalogue (#select2-language's data-texts).
(function ($) {
  "use strict";
  var tag = document.getElementById("select2-language");
  if (!$ || !$.fn || !$.fn.select2 || !tag) return;
  var texts = JSON.parse(tag.getAttribute("data-texts"));
  var language = {};
  ["noResults", "searching", "errorLoading", "loadingMore", "removeAllItems", "inputTooShort",
   "inputTooLong", "maximumSelected"].forEach(function (key) {
    language[key] = function () { return texts[key]; };
  });
  $.fn.select2.defaults.set("language", language);
  $(function () {
    // The same options as ab.js but the texts; read-only boxes are left as ab.js made them. A box
    // without a blank choice (Perfil, Canal, Tipo Chatbot, Fuso horário: all required) gets no "×":
    // cleared, it posted nothing, the form came back with its first choice shown (Fuso horário
    // "Africa/Abidjan") and saving again stored that.
    $(".my_select2").not(".readonly").each(function () {
      var box = $(this);
      var blank = box.find("option").filter(function () { return this.value === "" || this.value === "__None"; });
      box.select2({
        placeholder: texts.placeholder, allowClear: blank.length > 0, theme: "bootstrap", language: language
      });
    });
  });
})(window.jQuery);
