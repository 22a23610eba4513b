"""Explainers behind one interface, and the Explanation they return.

Every explainer answers ``Method(classifier, ...).explain(x, target) -> Explanation``:
LeapFactual and the baselines of docs/method.md §7 (Opt-based, CGM-based, counterfactual
attacks in latent and pixel space, linear reflection).
"""

from typing import TYPE_CHECKING

from leapfactual._lazy import lazy_face

if TYPE_CHECKING:
    from leapfactual.explain.attack import LatentAttack
    from leapfactual.explain.attributions import (
        AttributeProbes,
        Attributions,
        attribute_attributions,
        fit_attribute_probes,
    )
    from leapfactual.explain.base import (
        Explainer,
        Outputs,
        as_probs,
        as_target,
        check_finite,
        check_inputs,
        check_range,
        check_rows,
        check_tolerance,
        model_errors,
        module_device,
        module_dtype,
    )
    from leapfactual.explain.cgm import CGMBased, ConditionalCodec
    from leapfactual.explain.explanation import Cost, Explanation, Timer, stored_meta
    from leapfactual.explain.leapfactual import LeapFactual
    from leapfactual.explain.opt import OptBased
    from leapfactual.explain.options import (
        BUILT_IN_METHODS,
        Blend,
        Diversity,
        Inject,
        check_nonfinite,
    )
    from leapfactual.explain.pixel import PixelAttack
    from leapfactual.explain.reflection import LatentReflection
    from leapfactual.explain.registry import (
        MethodInfo,
        Models,
        Output,
        build_explainer,
        method_info,
        register_method,
        registered_methods,
    )
    from leapfactual.explain.stored import StoredExplanation, open_explanation
    from leapfactual.explain.targets import (
        all_other_targets,
        check_target_spec,
        parse_targets,
        random_other_targets,
        value_targets,
    )

__all__ = [
    "BUILT_IN_METHODS",
    "AttributeProbes",
    "Attributions",
    "Blend",
    "CGMBased",
    "ConditionalCodec",
    "Cost",
    "Diversity",
    "Explainer",
    "Explanation",
    "Inject",
    "LatentAttack",
    "LatentReflection",
    "LeapFactual",
    "MethodInfo",
    "Models",
    "OptBased",
    "Output",
    "Outputs",
    "PixelAttack",
    "StoredExplanation",
    "Timer",
    "all_other_targets",
    "as_probs",
    "as_target",
    "attribute_attributions",
    "build_explainer",
    "check_finite",
    "check_inputs",
    "check_nonfinite",
    "check_range",
    "check_rows",
    "check_target_spec",
    "check_tolerance",
    "fit_attribute_probes",
    "method_info",
    "model_errors",
    "module_device",
    "module_dtype",
    "open_explanation",
    "parse_targets",
    "random_other_targets",
    "register_method",
    "registered_methods",
    "stored_meta",
    "value_targets",
]

lazy_face(__name__, light=("options",))
