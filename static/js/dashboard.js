// Draws the tenant dashboard's charts from data the page embeds with json_script.
(function () {
  function brand(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }
  function draw() {
    if (typeof Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var data = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
      var colours = [brand("--brand-primary", "#0E5E6F"), brand("--brand-accent", "#F2A541"), "#8892a6", "#b42318"];
      new Chart(canvas, {
        type: canvas.dataset.type || "bar",
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (set, index) {
            return { label: set.label, data: set.data, backgroundColor: colours[index % colours.length],
                     borderColor: colours[index % colours.length], tension: 0.25 };
          })
        },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
                   plugins: { legend: { position: "bottom" } } }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
