"""The colours every nnlib plot uses: the Okabe-Ito palette and colour maps built on it."""

from __future__ import annotations

from matplotlib.colors import LinearSegmentedColormap

__all__ = ["OKABE_ITO", "CYCLE", "GREY", "SEQUENTIAL_CMAP", "DIVERGING_CMAP"]

#: The Okabe-Ito palette (Okabe & Ito 2008), distinguishable with the common colour-vision
#: deficiencies. Use these names instead of matplotlib's default cycle.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "sky_blue": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
#: Colour cycle for several lines, most distinguishable first: the first five are far apart
#: (orange and vermillion, blue and sky blue, the close pairs, only meet from the sixth line on).
CYCLE = tuple(OKABE_ITO[k] for k in ("blue", "orange", "green", "purple", "black",
                                     "sky_blue", "vermillion", "yellow"))
#: Grey for "off" things (dropped units, masked areas).
GREY = "#BBBBBB"
#: Perceptually uniform sequential map that stays readable in colour-blind vision and in grey.
SEQUENTIAL_CMAP = "cividis"
#: Diverging map blue (low / class 0) -> white -> orange (high / class 1), Okabe-Ito ends.
DIVERGING_CMAP = LinearSegmentedColormap.from_list(
    "okabe_ito_blue_orange", [OKABE_ITO["blue"], "#FFFFFF", OKABE_ITO["orange"]])
