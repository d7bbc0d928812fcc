// Table, JSON and HTML renderings of the levels. The HTML is one file a user can mail or attach
// to an issue: styles inline, charts as SVG drawn here, no scripts.
#include "loadgen/report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string_view>

#include <boost/json.hpp>

namespace ragd::loadgen {

namespace {

namespace json = boost::json;

constexpr std::array<double, 4> kTablePercentiles = {50, 90, 95, 99};

double to_ms(std::uint64_t ns) {
    return static_cast<double>(ns) / 1e6;
}

std::string format(const char* fmt, double value) {
    const int size = std::snprintf(nullptr, 0, fmt, value);
    std::string out(static_cast<std::size_t>(std::max(size, 0)), '\0');
    std::snprintf(out.data(), out.size() + 1, fmt, value);
    return out;
}

// Milliseconds with enough digits for sub-millisecond latencies, at most 8 characters.
std::string ms_cell(std::uint64_t ns) {
    const double ms = to_ms(ns);
    return format(ms < 10 ? "%8.3f" : ms < 10000 ? "%8.1f" : "%8.0f", ms);
}

std::string pad_left(std::string text, std::size_t width) {
    if (text.size() < width) {
        text.insert(0, width - text.size(), ' ');
    }
    return text;
}

std::string level_label(const LevelResult& level) {
    return level.open_loop ? format("%g/s", level.spec.rate_per_s)
                           : std::to_string(level.spec.users);
}

json::object percentiles_ms(const Histogram& histogram) {
    json::object out;
    out["count"] = histogram.count();
    out["min"] = to_ms(histogram.min());
    out["mean"] = histogram.mean() / 1e6;
    out["p50"] = to_ms(histogram.percentile(50));
    out["p90"] = to_ms(histogram.percentile(90));
    out["p95"] = to_ms(histogram.percentile(95));
    out["p99"] = to_ms(histogram.percentile(99));
    out["p999"] = to_ms(histogram.percentile(99.9));
    out["max"] = to_ms(histogram.max());
    return out;
}

double seconds(std::chrono::nanoseconds duration) {
    return std::chrono::duration<double>(duration).count();
}

double success_rps(const LevelResult& level) {
    const double window = seconds(level.measured);
    return window <= 0 ? 0.0 : static_cast<double>(level.stats.successes) / window;
}

std::string html_escape(std::string_view text) {
    std::string out;
    for (const char c : text) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// A "nice" axis step (1, 2 or 5 times a power of ten) giving about `ticks` intervals.
double nice_step(double span, int ticks) {
    if (span <= 0) {
        return 1;
    }
    const double raw = span / ticks;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double fraction = raw / magnitude;
    const double nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
    return nice * magnitude;
}

struct Series {
    std::string name;
    std::string color;
    std::vector<double> ys;
};

// A line chart of `series` against `xs` (both axes from 0), as an inline SVG element.
std::string line_chart(const std::string& title,
                       const std::string& x_label,
                       const std::string& y_label,
                       const std::vector<double>& xs,
                       const std::vector<Series>& series) {
    constexpr double kWidth = 720;
    constexpr double kHeight = 360;
    constexpr double kLeft = 70;
    constexpr double kRight = 150;
    constexpr double kTop = 36;
    constexpr double kBottom = 50;
    const double plot_w = kWidth - kLeft - kRight;
    const double plot_h = kHeight - kTop - kBottom;

    double x_max = 0;
    for (const double x : xs) {
        x_max = std::max(x_max, x);
    }
    double y_max = 0;
    for (const auto& line : series) {
        for (const double y : line.ys) {
            y_max = std::max(y_max, y);
        }
    }
    const double x_step = nice_step(x_max > 0 ? x_max : 1, 5);
    const double y_step = nice_step(y_max > 0 ? y_max : 1, 5);
    const double x_top = std::max(x_step, std::ceil(x_max * 1.05 / x_step) * x_step);
    const double y_top = std::max(y_step, std::ceil(y_max * 1.05 / y_step) * y_step);
    auto px = [&](double x) {
        return kLeft + x / x_top * plot_w;
    };
    auto py = [&](double y) {
        return kTop + plot_h - y / y_top * plot_h;
    };

    std::string svg =
        format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\"", kWidth) +
        format(" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">", kHeight);
    svg += format("<text x=\"%.0f\" y=\"20\" font-size=\"15\" font-weight=\"bold\">", kLeft) +
           html_escape(title) + "</text>";
    for (double y = 0; y <= y_top + y_step / 2; y += y_step) {
        svg += format("<line x1=\"%.1f\"", kLeft) + format(" x2=\"%.1f\"", kLeft + plot_w) +
               format(" y1=\"%.1f\"", py(y)) + format(" y2=\"%.1f\" stroke=\"#ddd\"/>", py(y));
        svg += format("<text x=\"%.1f\"", kLeft - 6) +
               format(" y=\"%.1f\" text-anchor=\"end\">", py(y) + 4) + format("%g", y) + "</text>";
    }
    for (double x = 0; x <= x_top + x_step / 2; x += x_step) {
        svg += format("<line y1=\"%.1f\"", kTop) + format(" y2=\"%.1f\"", kTop + plot_h) +
               format(" x1=\"%.1f\"", px(x)) + format(" x2=\"%.1f\" stroke=\"#eee\"/>", px(x));
        svg += format("<text x=\"%.1f\"", px(x)) +
               format(" y=\"%.1f\" text-anchor=\"middle\">", kTop + plot_h + 16) + format("%g", x) +
               "</text>";
    }
    svg += format("<rect x=\"%.1f\"", kLeft) + format(" y=\"%.1f\"", kTop) +
           format(" width=\"%.1f\"", plot_w) +
           format(" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>", plot_h);
    svg += format("<text x=\"%.1f\"", kLeft + plot_w / 2) +
           format(" y=\"%.1f\" text-anchor=\"middle\">", kHeight - 10) + html_escape(x_label) +
           "</text>";
    svg += format("<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">",
                  kTop + plot_h / 2) +
           html_escape(y_label) + "</text>";
    for (std::size_t line_idx = 0; line_idx < series.size(); ++line_idx) {
        const auto& line = series[line_idx];
        std::string points;
        for (std::size_t idx = 0; idx < xs.size() && idx < line.ys.size(); ++idx) {
            points += format("%.1f,", px(xs[idx])) + format("%.1f ", py(line.ys[idx]));
            svg += format("<circle cx=\"%.1f\"", px(xs[idx])) +
                   format(" cy=\"%.1f\" r=\"3\" fill=\"", py(line.ys[idx])) + line.color +
                   "\"><title>" + html_escape(line.name) + format(" %g", line.ys[idx]) +
                   "</title></circle>";
        }
        svg += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" + line.color +
               "\" points=\"" + points + "\"/>";
        const double legend_y = kTop + 10 + static_cast<double>(line_idx) * 18;
        svg += format("<rect x=\"%.1f\"", kLeft + plot_w + 14) +
               format(" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"", legend_y - 10) +
               line.color + "\"/>";
        svg += format("<text x=\"%.1f\"", kLeft + plot_w + 32) + format(" y=\"%.1f\">", legend_y) +
               html_escape(line.name) + "</text>";
    }
    svg += "</svg>";
    return svg;
}

}  // namespace

std::string table_header(bool open_loop, bool stream) {
    std::string out = pad_left(open_loop ? "rate" : "users", 8) + pad_left("requests", 10) +
                      pad_left("ok%", 8) + pad_left("rps", 10);
    for (const double pct : kTablePercentiles) {
        out += pad_left(format("p%g", pct), 9);
    }
    out += pad_left("max", 9);
    if (stream) {
        out += pad_left("ttfb50", 9) + pad_left("ttfb95", 9) + pad_left("event50", 9) +
               pad_left("event95", 9);
    }
    out += pad_left("cpu%", 7) + "  errors";
    return out;
}

std::string table_row(const LevelResult& level, bool stream) {
    const auto& stats = level.stats;
    std::string out = pad_left(level_label(level), 8) +
                      pad_left(std::to_string(stats.requests), 10) +
                      format("%8.2f", stats.success_pct()) + format("%10.1f", level.rps());
    for (const double pct : kTablePercentiles) {
        out += " " + ms_cell(stats.latency_ns.percentile(pct));
    }
    out += " " + ms_cell(stats.latency_ns.max());
    if (stream) {
        out += " " + ms_cell(stats.ttfb_ns.percentile(50)) + " " +
               ms_cell(stats.ttfb_ns.percentile(95)) + " " +
               ms_cell(stats.first_event_ns.percentile(50)) + " " +
               ms_cell(stats.first_event_ns.percentile(95));
    }
    out += format("%7.0f", level.cpu_pct());
    const std::string errors = stats.error_summary();
    out += "  " + (errors.empty() ? std::string("-") : errors);
    if (level.interrupted) {
        out += "  (interrupted)";
    }
    return out;
}

std::string report_json(const BenchOptions& options, const std::vector<LevelResult>& levels) {
    json::object root;
    root["tool"] = "ragd bench";
    root["url"] = "http://" + options.url.host_header + options.url.target;
    root["method"] = options.method;
    root["mode"] = options.open_loop ? "open" : "closed";
    root["stream"] = options.stream;
    root["duration_s"] = seconds(options.duration);
    if (options.ramp_up) {
        root["ramp_up_s"] = seconds(*options.ramp_up);
    } else {
        root["ramp_up_s"] = nullptr;
    }
    root["think_time_ms"] = seconds(options.think_time) * 1e3;
    root["timeout_s"] = seconds(options.timeout);
    root["threads"] = options.threads;
    root["repeat_fraction"] = options.repeat_fraction;
    root["min_success_pct"] = options.min_success_pct;
    json::array out_levels;
    for (const auto& level : levels) {
        const auto& stats = level.stats;
        json::object item;
        item["users"] = level.spec.users;
        if (level.open_loop) {
            item["rate_per_s"] = level.spec.rate_per_s;
        } else {
            item["rate_per_s"] = nullptr;
        }
        item["measured_s"] = seconds(level.measured);
        item["interrupted"] = level.interrupted;
        item["requests"] = stats.requests;
        item["successes"] = stats.successes;
        item["success_pct"] = stats.success_pct();
        item["rps"] = level.rps();
        item["success_rps"] = success_rps(level);
        item["body_bytes"] = stats.body_bytes;
        item["cpu_pct"] = level.cpu_pct();
        json::object errors;
        for (std::size_t idx = 0; idx < stats.errors.size(); ++idx) {
            if (stats.errors[idx] > 0) {
                errors[error_kind_name(static_cast<ErrorKind>(idx))] = stats.errors[idx];
            }
        }
        for (std::size_t code = 0; code < stats.http_errors.size(); ++code) {
            if (stats.http_errors[code] > 0) {
                errors[std::to_string(code)] = stats.http_errors[code];
            }
        }
        item["errors"] = std::move(errors);
        item["latency_ms"] = percentiles_ms(stats.latency_ns);
        item["ttfb_ms"] = percentiles_ms(stats.ttfb_ns);
        item["first_event_ms"] = percentiles_ms(stats.first_event_ns);
        out_levels.push_back(std::move(item));
    }
    root["levels"] = std::move(out_levels);
    return json::serialize(root) + "\n";
}

std::string report_html(const BenchOptions& options, const std::vector<LevelResult>& levels) {
    // Plot against the rate when the levels differ in rate (open loop), else against users.
    const bool open_loop = options.open_loop &&
                           std::all_of(levels.begin(), levels.end(), [&](const LevelResult& level) {
                               return level.spec.users == levels.front().spec.users;
                           });
    const std::string x_label =
        open_loop ? "arrival rate (requests/s)" : "concurrent users (connections)";
    std::vector<double> xs;
    std::vector<Series> latency{{"p50", "#1f77b4", {}},
                                {"p90", "#2ca02c", {}},
                                {"p95", "#ff7f0e", {}},
                                {"p99", "#d62728", {}}};
    std::vector<Series> throughput{{"all responses", "#7f7f7f", {}}, {"2xx", "#1f77b4", {}}};
    for (const auto& level : levels) {
        xs.push_back(open_loop ? level.spec.rate_per_s : level.spec.users);
        for (std::size_t idx = 0; idx < kTablePercentiles.size(); ++idx) {
            latency[idx].ys.push_back(
                to_ms(level.stats.latency_ns.percentile(kTablePercentiles[idx])));
        }
        throughput[0].ys.push_back(level.rps());
        throughput[1].ys.push_back(success_rps(level));
    }

    const std::string url = "http://" + options.url.host_header + options.url.target;
    std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ragd bench: " +
                       html_escape(url) +
                       "</title><style>body{font-family:sans-serif;margin:24px;color:#222}"
                       "table{border-collapse:collapse;font-size:13px}"
                       "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
                       "th{background:#f4f4f4}td.l{text-align:left}svg{display:block;margin:16px 0}"
                       "</style></head><body>\n";
    html += "<h1>ragd bench</h1>\n<p>" + html_escape(options.method) + " <code>" +
            html_escape(url) + "</code>, " + (options.open_loop ? "open loop" : "closed loop") +
            format(", %g s per level", seconds(options.duration)) +
            (options.stream ? ", SSE streams" : "") +
            format(", %g s timeout", seconds(options.timeout)) +
            format(", %g%% repeated queries", options.repeat_fraction * 100) +
            ". Latency covers successful requests only, in milliseconds.</p>\n";
    html += "<table><tr><th>" + std::string(open_loop ? "rate/s" : "users") +
            "</th><th>requests</th><th>ok %</th><th>rps</th><th>2xx rps</th><th>p50</th><th>"
            "p90</th><th>p95</th><th>p99</th><th>max</th><th>ttfb p50</th><th>ttfb p95</th>";
    if (options.stream) {
        html += "<th>first event p50</th><th>first event p95</th>";
    }
    html += "<th>bench cpu %</th><th>errors</th></tr>\n";
    for (const auto& level : levels) {
        const auto& stats = level.stats;
        html += "<tr><td>" + html_escape(level_label(level)) + "</td><td>" +
                std::to_string(stats.requests) + "</td><td>" + format("%.2f", stats.success_pct()) +
                "</td><td>" + format("%.1f", level.rps()) + "</td><td>" +
                format("%.1f", success_rps(level)) + "</td>";
        for (const double pct : kTablePercentiles) {
            html += "<td>" + format("%.3f", to_ms(stats.latency_ns.percentile(pct))) + "</td>";
        }
        html += "<td>" + format("%.3f", to_ms(stats.latency_ns.max())) + "</td>";
        html += "<td>" + format("%.3f", to_ms(stats.ttfb_ns.percentile(50))) + "</td><td>" +
                format("%.3f", to_ms(stats.ttfb_ns.percentile(95))) + "</td>";
        if (options.stream) {
            html += "<td>" + format("%.3f", to_ms(stats.first_event_ns.percentile(50))) +
                    "</td><td>" + format("%.3f", to_ms(stats.first_event_ns.percentile(95))) +
                    "</td>";
        }
        const std::string errors = stats.error_summary();
        html += "<td>" + format("%.0f", level.cpu_pct()) + "</td><td class=\"l\">" +
                html_escape(errors.empty() ? "-" : errors) +
                (level.interrupted ? " (interrupted)" : "") + "</td></tr>\n";
    }
    html += "</table>\n";
    html += line_chart("Latency percentiles", x_label, "latency (ms)", xs, latency) + "\n";
    html += line_chart("Throughput", x_label, "requests per second", xs, throughput) + "\n";
    html += "</body></html>\n";
    return html;
}

}  // namespace ragd::loadgen
