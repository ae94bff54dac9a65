// Small behaviours of every page, without inline script (the Content-Security-Policy forbids it).

// <button data-print>: print the page.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});

// <form data-confirm="Question?">: ask before sending it.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
