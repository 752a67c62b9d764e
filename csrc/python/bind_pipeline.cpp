// cxrmt._core.Pipeline: the C pipeline (cxrmt_pipeline_*) for Python, bound over the C API
// itself so that the tests that compare it with cxrmt.pipeline.Predictor test what C callers get.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <cxrmt/cxrmt.h>

namespace py = pybind11;

namespace {

[[noreturn]] void raise(cxrmt_status status) {
  const std::string msg = cxrmt_last_error();
  if (status == CXRMT_ERROR_INVALID_ARGUMENT) throw py::value_error(msg);
  throw std::runtime_error(msg);
}

void ok(cxrmt_status status) {
  if (status != CXRMT_OK) raise(status);
}

const char* const kOutputs[] = {"masks", "labels", "segmentation", "overlay", "bone", "output"};

struct choice {
  const char* name;
  int value;
};

int pick(const std::string& given, std::initializer_list<choice> choices, const char* what) {
  std::string names;
  for (const auto& c : choices) {
    if (given == c.name) return c.value;
    names += (names.empty() ? "" : ", ") + std::string(c.name);
  }
  throw py::value_error(std::string(what) + ": must be one of " + names + " (got '" + given + "')");
}

class Pipeline {
 public:
  Pipeline(const std::string& model, const std::string& device, int device_index, int threads,
           std::optional<std::string> library) {
    cxrmt_pipeline_options o;
    cxrmt_pipeline_options_init(&o);
    o.device = static_cast<cxrmt_device>(pick(device, {{"auto", CXRMT_DEVICE_AUTO}, {"cpu", CXRMT_DEVICE_CPU},
                                                       {"cuda", CXRMT_DEVICE_CUDA}}, "device"));
    o.device_index = device_index;
    o.threads = threads;
    if (library) o.library = library->c_str();
    cxrmt_status st;
    {
      py::gil_scoped_release free;
      st = cxrmt_pipeline_create(model.c_str(), &o, &p_);
    }
    ok(st);
  }
  ~Pipeline() { cxrmt_pipeline_destroy(p_); }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  py::dict info() const {
    cxrmt_model_info i;
    ok(cxrmt_pipeline_info(p_, &i));
    py::dict d;
    d["size"] = i.size;
    d["batch"] = i.batch;
    d["layout"] = i.layout == CXRMT_NHWC ? "nhwc" : "nchw";
    d["task"] = i.task == CXRMT_TASK_MT ? "mt" : i.task == CXRMT_TASK_SEG ? "seg" : "bse";
    d["palette"] = py::array_t<std::uint8_t>({4, 3}, i.palette);
    d["precision"] = std::string(i.precision);
    d["backend"] = std::string(i.backend);
    d["window"] = std::string(i.window);
    return d;
  }

  py::dict run(const py::array& image, const py::object& window, std::optional<std::pair<double, double>> percentile,
               int bits_stored, bool invert, std::optional<double> white,
               std::optional<std::pair<double, double>> spacing, bool clean, int alpha, const std::string& filter,
               const std::string& overlay_mode, int thickness, std::optional<py::array> palette,
               const std::string& bone_mode, const std::string& resample, const std::set<std::string>& outputs) const {
    for (const auto& o : outputs)
      if (std::find(std::begin(kOutputs), std::end(kOutputs), o) == std::end(kOutputs))
        throw py::value_error("outputs: unknown output '" + o + "'");
    if (image.ndim() != 2) throw py::value_error("image: expected a 2-D grey image (H, W)");
    const cxrmt_dtype type = dtype_of(image);
    const py::array pixels = native_contiguous(image, type);
    cxrmt_image im{pixels.data(), type, static_cast<int32_t>(pixels.shape(0)),
                   static_cast<int32_t>(pixels.shape(1)), 0};
    cxrmt_run_options o;
    cxrmt_run_options_init(&o);
    set_window(o, window, percentile);
    o.bits_stored = bits_stored;
    o.invert = invert;
    o.white = white ? static_cast<float>(*white) : 0.0f;
    if (spacing) { o.spacing_mm[0] = spacing->first; o.spacing_mm[1] = spacing->second; }
    o.clean = clean;
    o.overlay.alpha = alpha;
    o.overlay.filter = static_cast<cxrmt_filter>(
        pick(filter, {{"point", CXRMT_FILTER_POINT}, {"linear", CXRMT_FILTER_LINEAR}}, "filter"));
    o.overlay.mode = static_cast<cxrmt_overlay_mode>(
        pick(overlay_mode, {{"fill", CXRMT_OVERLAY_FILL}, {"outline", CXRMT_OVERLAY_OUTLINE}}, "overlay_mode"));
    o.overlay.thickness = thickness;
    if (palette) {
      auto pal = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(*palette);
      if (!pal || pal.size() != 12) throw py::value_error("palette: expected 4 x 3 uint8 colours");
      std::memcpy(o.overlay.palette, pal.data(), 12);
      o.model_palette = 0;
    }
    o.bone_mode = static_cast<cxrmt_bone_mode>(
        pick(bone_mode, {{"residual", CXRMT_BONE_RESIDUAL}, {"resize", CXRMT_BONE_RESIZE}}, "bone_mode"));
    o.resample = static_cast<cxrmt_resample>(
        pick(resample, {{"bilinear", CXRMT_RESAMPLE_BILINEAR}, {"area", CXRMT_RESAMPLE_AREA}}, "resample"));

    cxrmt_output_sizes s;
    ok(cxrmt_outputs_size(p_, &im, &o, &s));
    cxrmt_model_info info;
    ok(cxrmt_pipeline_info(p_, &info));
    const py::ssize_t h = s.height, w = s.width, n = info.size, c = info.task == CXRMT_TASK_MT ? 6 : 3;
    cxrmt_outputs out{};
    auto on = [&](const char* name) { return outputs.count(name) > 0; };
    using shape = std::vector<py::ssize_t>;
    py::object masks = buffer<std::uint8_t>(on("masks"), s.masks, {3, h, w}, &out.masks, &out.masks_size);
    py::object labels = buffer<std::uint8_t>(on("labels"), s.labels, {h, w}, &out.labels, &out.labels_size);
    py::object seg = buffer<std::uint8_t>(on("segmentation"), s.segmentation, {h, w, 3}, &out.segmentation,
                                          &out.segmentation_size);
    py::object rgb = buffer<std::uint8_t>(on("overlay"), s.overlay, {h, w, 3}, &out.overlay, &out.overlay_size);
    py::object bone = s.bone_dtype == CXRMT_U8
                          ? buffer<std::uint8_t>(on("bone"), s.bone, {h, w}, &out.bone, &out.bone_size)
                          : buffer<std::uint16_t>(on("bone"), s.bone, {h, w}, &out.bone, &out.bone_size);
    py::object raw = buffer<float>(on("output"), s.output, info.layout == CXRMT_NHWC ? shape{n, n, c} : shape{c, n, n},
                                   &out.output, &out.output_size);
    cxrmt_status st;
    {
      py::gil_scoped_release free;
      st = cxrmt_pipeline_run(p_, &im, &o, &out);
    }
    ok(st);
    py::dict result;
    result["masks"] = masks; result["labels"] = labels; result["segmentation"] = seg;
    result["overlay"] = rgb; result["bone_suppressed"] = bone; result["output"] = raw;
    const auto& t = out.timings;
    result["timings"] = py::dict(py::arg("read") = t.read_ms, py::arg("preprocess") = t.preprocess_ms,
                                 py::arg("inference") = t.inference_ms, py::arg("decode") = t.decode_ms,
                                 py::arg("total") = t.total_ms);
    result["window"] = py::make_tuple(out.frame.window_lo, out.frame.window_hi);
    if (info.task != CXRMT_TASK_BSE) result["measurements"] = measurements(out.measurements);
    else result["measurements"] = py::none();
    return result;
  }

 private:
  // A new array for one output when asked for and given by the model (bytes > 0), its buffer
  // and capacity handed to the C call; None otherwise.
  template <typename T, typename P>
  static py::object buffer(bool wanted, std::size_t bytes, std::vector<py::ssize_t> shape, P** ptr,
                           std::size_t* size) {
    if (!wanted || bytes == 0) return py::none();
    py::array_t<T> a(shape);
    *ptr = reinterpret_cast<P*>(a.mutable_data());
    *size = bytes;
    return std::move(a);
  }

  static cxrmt_dtype dtype_of(const py::array& a) {
    const char k = a.dtype().kind();
    if (k == 'u' && a.itemsize() == 1) return CXRMT_U8;
    if (k == 'u' && a.itemsize() == 2) return CXRMT_U16;
    if (k == 'f' && a.itemsize() == 4) return CXRMT_F32;
    throw py::value_error("image: dtype " + py::str(a.dtype()).cast<std::string>() +
                          " is not supported (use uint8, uint16 or float32)");
  }

  // C-contiguous, native byte order (a big-endian '>u2' array is converted, not misread).
  static py::array native_contiguous(const py::array& a, cxrmt_dtype type) {
    constexpr int flags = py::array::c_style | py::array::forcecast;
    if (type == CXRMT_U8) return py::array_t<std::uint8_t, flags>::ensure(a);
    if (type == CXRMT_U16) return py::array_t<std::uint16_t, flags>::ensure(a);
    return py::array_t<float, flags>::ensure(a);
  }

  static void set_window(cxrmt_run_options& o, const py::object& window,
                         const std::optional<std::pair<double, double>>& percentile) {
    const bool automatic = !window.is_none() && py::isinstance<py::str>(window) && window.cast<std::string>() == "auto";
    if (percentile) {
      if (!window.is_none() && !automatic) throw py::value_error("give a window or a percentile window, not both");
      o.window = CXRMT_WINDOW_PERCENTILE;
      o.p_lo = static_cast<float>(percentile->first);
      o.p_hi = static_cast<float>(percentile->second);
    } else if (window.is_none()) {
      o.window = CXRMT_WINDOW_MODEL;
    } else if (py::isinstance<py::str>(window)) {
      o.window = static_cast<cxrmt_window_mode>(
          pick(window.cast<std::string>(), {{"auto", CXRMT_WINDOW_AUTO}, {"full", CXRMT_WINDOW_FULL}}, "window"));
    } else {
      auto lohi = window.cast<std::pair<double, double>>();
      o.window = CXRMT_WINDOW_EXPLICIT;
      o.window_lo = static_cast<float>(lohi.first);
      o.window_hi = static_cast<float>(lohi.second);
    }
  }

  static py::dict measurements(const cxrmt_measurements& m) {
    static const char* const organs[] = {"heart", "left_lung", "right_lung"};
    py::dict d, per;
    for (int i = 0; i < 3; ++i) {
      const auto& o = m.organs[i];
      py::dict e;
      e["area_px"] = o.area_px; e["height_px"] = o.height_px; e["width_px"] = o.width_px;
      if (m.has_spacing) { e["area_mm2"] = o.area_mm2; e["height_mm"] = o.height_mm; e["width_mm"] = o.width_mm; }
      per[organs[i]] = e;
    }
    d["organs"] = per;
    d["cardiothoracic_ratio"] = m.has_ctr ? py::object(py::float_(m.cardiothoracic_ratio)) : py::none();
    return d;
  }

  cxrmt_pipeline* p_ = nullptr;
};

}  // namespace

void bind_pipeline(py::module_& m) {
  py::class_<Pipeline>(m, "Pipeline",
                       "The C pipeline (cxrmt_pipeline_*): one radiograph in, every `cxrmt infer` output out.")
      .def(py::init<const std::string&, const std::string&, int, int, std::optional<std::string>>(),
           py::arg("model"), py::arg("device") = "auto", py::arg("device_index") = 0, py::arg("threads") = 0,
           py::arg("library") = py::none())
      .def_property_readonly("info", &Pipeline::info)
      .def("run", &Pipeline::run, py::arg("image"), py::kw_only(), py::arg("window") = py::none(),
           py::arg("percentile") = py::none(), py::arg("bits_stored") = 0, py::arg("invert") = false,
           py::arg("white") = py::none(), py::arg("spacing") = py::none(), py::arg("clean") = false,
           py::arg("alpha") = 128, py::arg("filter") = "point", py::arg("overlay_mode") = "fill",
           py::arg("thickness") = 1, py::arg("palette") = py::none(), py::arg("bone_mode") = "residual",
           py::arg("resample") = "bilinear",
           py::arg("outputs") = std::set<std::string>{"masks", "labels", "segmentation", "overlay", "bone"},
           "Run one grey image; returns a dict of arrays (None where not asked or not given by the model), "
           "timings (ms), measurements and the window that fed the network.");
}
