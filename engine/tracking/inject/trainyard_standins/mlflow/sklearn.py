"""``mlflow.sklearn`` under Trainyard: ``autolog()`` makes scikit-learn estimators log as they fit.

As in MLflow, ``fit`` (and ``fit_transform``, ``fit_predict``) of every estimator class that
``sklearn.utils.all_estimators()`` lists is wrapped. The outermost call logs:

- before fitting: ``get_params()`` as the run's params, and the ``estimator_name`` and
  ``estimator_class`` tags;
- after fitting with targets ``y``: ``training_score`` (``estimator.score(X, y)``) and MLflow's
  training metrics, ``training_accuracy_score``, ``training_precision_score``,
  ``training_recall_score`` and ``training_f1_score`` for classifiers, and
  ``training_mean_squared_error``, ``training_root_mean_squared_error``,
  ``training_mean_absolute_error`` and ``training_r2_score`` for regressors.

Fits inside it (a pipeline's steps, a search's candidates) log nothing of their own. When no run
is active the fit starts one and ends it, as MLflow's autologging does. Models are not saved:
save them under ``./outputs`` (``joblib.dump(model, "outputs/model.pkl")``), which Trainyard keeps
with the run. An error while logging never breaks the fit; it is reported once on stderr.
"""

import functools
import importlib.util
import math
import threading

import mlflow
from mlflow._flavor import flavor_getattr
from mlflow._runs import note

__all__ = ["autolog", "sklearn_installed"]

_METHODS = ("fit", "fit_transform", "fit_predict")
_ABSENT = object()
_patched: list = []  # (class, method name, what the class's own __dict__ held, or _ABSENT)
_inside = threading.local()  # set while an autologged fit runs on this thread
_warned: list = []


def sklearn_installed() -> bool:
    return importlib.util.find_spec("sklearn") is not None


def autolog(disable: bool = False, silent: bool = False, **kwargs: object) -> None:
    """Log params and training metrics of scikit-learn estimators as they fit (``disable=True`` stops it).

    MLflow's other options (``log_models``, ``max_tuning_runs``...) are accepted and ignored.
    """
    if disable:
        _unpatch_all()
        return
    try:
        from sklearn.utils import all_estimators
    except ImportError as exc:
        raise ImportError("mlflow.sklearn.autolog(): scikit-learn is not installed in the run's environment") from exc
    if _patched:
        return  # already on
    for _name, cls in all_estimators():
        for method in _METHODS:
            _patch(cls, method)


def _patch(cls: type, method: str) -> None:
    own = cls.__dict__.get(method, _ABSENT)
    for klass in cls.__mro__:
        if method in klass.__dict__:
            found = klass.__dict__[method]
            break
    else:
        return
    # Plain functions only: sklearn's `available_if` descriptors decide whether the method exists.
    if not isinstance(found, type(_patch)) or getattr(found, "_trainyard_autolog", False):
        return
    setattr(cls, method, _wrap(found))
    _patched.append((cls, method, own))


def _unpatch_all() -> None:
    while _patched:
        cls, method, own = _patched.pop()
        if own is _ABSENT:
            delattr(cls, method)
        else:
            setattr(cls, method, own)


def _wrap(original: object) -> object:
    @functools.wraps(original)  # type: ignore[arg-type]
    def autologged(self: object, *args: object, **kwargs: object) -> object:
        if getattr(_inside, "fit", False):
            return original(self, *args, **kwargs)  # type: ignore[operator]
        _inside.fit = True
        managed = False
        status = "FAILED"
        try:
            managed = mlflow.active_run() is None
            if managed:
                mlflow.start_run()
            _safely(_log_estimator, self)
            result = original(self, *args, **kwargs)  # type: ignore[operator]
            _safely(_log_training_metrics, self, args, kwargs)
            status = "FINISHED"
            return result
        finally:
            _inside.fit = False
            if managed:
                mlflow.end_run(status)

    autologged._trainyard_autolog = True  # type: ignore[attr-defined]
    return autologged


def _safely(log: object, estimator: object, *args: object) -> None:
    try:
        log(estimator, *args)  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - logging must never break the user's fit
        if not _warned:
            _warned.append(True)
            note(f"mlflow autolog could not log {type(estimator).__name__}: {exc}")


def _log_estimator(estimator: object) -> None:
    cls = type(estimator)
    mlflow.log_params(estimator.get_params(deep=True))  # type: ignore[attr-defined]
    mlflow.set_tags({"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__qualname__}"})


def _log_training_metrics(estimator: object, args: tuple, kwargs: dict) -> None:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    if X is None or y is None:
        return  # unsupervised: no targets to score against
    weights = {} if kwargs.get("sample_weight") is None else {"sample_weight": kwargs["sample_weight"]}
    metrics = {}
    score = getattr(estimator, "score", None)
    if score is not None:
        try:
            metrics["training_score"] = score(X, y, **weights)
        except Exception:  # noqa: BLE001, S110 - some estimators cannot score their training data
            pass
    metrics.update(_kind_metrics(estimator, X, y, weights))
    mlflow.log_metrics({k: v for k, v in metrics.items() if _is_number(v)})


def _kind_metrics(estimator: object, X: object, y: object, weights: dict) -> dict:
    """MLflow's training metrics for classifiers and regressors (each skipped if it fails)."""
    try:
        from sklearn import metrics
        from sklearn.base import is_classifier, is_regressor
    except ImportError:
        return {}
    if is_classifier(estimator):
        try:
            average = "weighted" if len(set(y)) > 2 else "binary"  # type: ignore[call-overload]
        except TypeError:
            average = "weighted"
        wanted = [
            ("training_accuracy_score", "accuracy_score", {}),
            ("training_precision_score", "precision_score", {"average": average}),
            ("training_recall_score", "recall_score", {"average": average}),
            ("training_f1_score", "f1_score", {"average": average}),
        ]
    elif is_regressor(estimator):
        wanted = [
            ("training_mean_squared_error", "mean_squared_error", {}),
            ("training_mean_absolute_error", "mean_absolute_error", {}),
            ("training_r2_score", "r2_score", {}),
        ]
    else:
        return {}
    try:
        predicted = estimator.predict(X)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - no predictions: no metrics
        return {}
    out = {}
    for name, function, options in wanted:
        try:
            out[name] = getattr(metrics, function)(y, predicted, **weights, **options)
        except Exception:  # noqa: BLE001, S112 - e.g. binary precision without label 1: skip it
            continue
    mse = out.get("training_mean_squared_error")
    if _is_number(mse):
        out["training_root_mean_squared_error"] = math.sqrt(float(mse))  # type: ignore[arg-type]
    return out


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


__getattr__ = flavor_getattr("sklearn", "joblib.dump(model, 'outputs/model.pkl')")
