"""The methods the project publishes and their papers, known to the core without importing any recipe.

The loader validates ``method=`` against `METHOD_NAMES`, evaluation finds a method's protocol and the cards
its paper here, so loading, evaluating and carding a set never import the recipes (and their training
machinery). Each recipe registers under one of these names: `register_method` refuses any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from condensed_datasets.core.errors import UnknownNameError


@dataclass(frozen=True)
class MethodPaper:
    """A method's paper: its title and venue, its citation, the evaluation protocol it reports with.

    ``real_images``: the method selects real images (coreset baselines): its sets of a real dataset are that
    dataset's images, never published, only their evaluations.
    """

    paper: str
    bibtex: str
    protocol: str
    real_images: bool = False


_IDC_BIBTEX = "@inproceedings{kim2022dataset, title={Dataset Condensation via Efficient Synthetic-Data Parameterization}, author={Kim, Jang-Hyun and Kim, Jinuk and Oh, Seong Joon and Yun, Sangdoo and Song, Hwanjun and Jeong, Joonhyuk and Ha, Jung-Woo and Song, Hyun Oh}, booktitle={International Conference on Machine Learning}, year={2022}}"  # IDC and IDC-I: one paper

# Registration order of the recipes, which is the order users see.
METHOD_PAPERS: dict[str, MethodPaper] = {
    "random": MethodPaper(
        paper="Random real images per class (coreset baseline)",
        bibtex="",
        protocol="dc",
        real_images=True,
    ),
    "herding": MethodPaper(
        paper="Herding dynamical weights to learn (Welling, ICML 2009), coreset baseline",
        bibtex="@inproceedings{welling2009herding, title={Herding dynamical weights to learn}, author={Welling, Max}, booktitle={ICML}, year={2009}}",
        protocol="dc",
        real_images=True,
    ),
    "dc": MethodPaper(
        paper="Dataset Condensation with Gradient Matching (ICLR 2021)",
        bibtex="@inproceedings{zhao2021dataset, title={Dataset Condensation with Gradient Matching}, author={Zhao, Bo and Mopuri, Konda Reddy and Bilen, Hakan}, booktitle={International Conference on Learning Representations}, year={2021}}",
        protocol="dc",
    ),
    "dsa": MethodPaper(
        paper="Dataset Condensation with Differentiable Siamese Augmentation (ICML 2021)",
        bibtex="@inproceedings{zhao2021dsa, title={Dataset Condensation with Differentiable Siamese Augmentation}, author={Zhao, Bo and Bilen, Hakan}, booktitle={International Conference on Machine Learning}, year={2021}}",
        protocol="dsa",
    ),
    "dm": MethodPaper(
        paper="Dataset Condensation with Distribution Matching (WACV 2023)",
        bibtex="@inproceedings{zhao2023distribution, title={Dataset Condensation with Distribution Matching}, author={Zhao, Bo and Bilen, Hakan}, booktitle={IEEE/CVF Winter Conference on Applications of Computer Vision}, year={2023}}",
        protocol="dsa",
    ),
    "dcmg": MethodPaper(
        paper="Delving into Effective Gradient Matching for Dataset Condensation (arXiv 2208.00311)",
        bibtex="@article{jiang2022delving, title={Delving into Effective Gradient Matching for Dataset Condensation}, author={Jiang, Zixuan and Gu, Jiaqi and Liu, Mingjie and Pan, David Z.}, journal={arXiv preprint arXiv:2208.00311}, year={2022}}",
        protocol="dc",
    ),
    "idc": MethodPaper(
        paper="Dataset Condensation via Efficient Synthetic-Data Parameterization (ICML 2022), multi-formation",
        bibtex=_IDC_BIBTEX,
        protocol="idc",
    ),
    "idc-i": MethodPaper(
        paper="Dataset Condensation via Efficient Synthetic-Data Parameterization (ICML 2022), IDC-I (no multi-formation)",
        bibtex=_IDC_BIBTEX,
        protocol="idc",
    ),
    "idm": MethodPaper(
        paper="Improved Distribution Matching for Dataset Condensation (CVPR 2023)",
        bibtex="@inproceedings{zhao2023improved, title={Improved Distribution Matching for Dataset Condensation}, author={Zhao, Ganlong and Li, Guanbin and Qin, Yipeng and Yu, Yizhou}, booktitle={IEEE/CVF Conference on Computer Vision and Pattern Recognition}, year={2023}}",
        protocol="dsa",
    ),
}
METHOD_NAMES: tuple[str, ...] = tuple(METHOD_PAPERS)


def check_method(name: str) -> str:
    """``name`` if it is a known method key; otherwise `UnknownNameError` listing the valid ones."""
    if name not in METHOD_NAMES:
        raise UnknownNameError(f"unknown method {name!r}; valid choices: {', '.join(METHOD_NAMES)}")
    return name


def method_paper(name: str) -> MethodPaper:
    """The paper of the method ``name`` (an unknown name lists the valid ones)."""
    return METHOD_PAPERS[check_method(name)]
