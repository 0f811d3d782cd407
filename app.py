"""costsim what-if app: `make run` (streamlit run app.py) and open http://localhost:8501.

The router only; each page is a script under costsim/ui/pages/ that reads its widgets into a
validated spec, calls one cached API function and draws charts from costsim/ui/charts.py.
"""

import runpy
from pathlib import Path

import streamlit as st

st.set_page_config(page_title="costsim — what it takes to train and serve AI models", page_icon=":material/bolt:", layout="wide")

TRAIN_SCRIPT = Path(__file__).with_name("costsim") / "ui" / "pages" / "train.py"


def train_at_its_own_path() -> None:
    """The Train page opened at /train or /start: Streamlit serves the default page only at the root (a default page's
    own url_path answers 'Page not found'), so each of these paths is a hidden page that runs the Train script."""
    runpy.run_path(str(TRAIN_SCRIPT), run_name="__main__")


#: the other paths the Train page answers at (the default page itself has none but the root)
TRAIN_PATHS = ("train", "start")


PAGES = [
    st.Page("costsim/ui/pages/train.py", title="Train", icon=":material/model_training:", url_path="", default=True),
    *(st.Page(train_at_its_own_path, title="Train", icon=":material/model_training:", url_path=path, visibility="hidden")
      for path in TRAIN_PATHS),
    st.Page("costsim/ui/pages/serve.py", title="Serve", icon=":material/chat:", url_path="serve"),
    st.Page("costsim/ui/pages/site.py", title="Site & grid", icon=":material/bolt:", url_path="site"),
    st.Page("costsim/ui/pages/grid.py", title="Grid headroom", icon=":material/electric_meter:", url_path="grid"),
    st.Page("costsim/ui/pages/plan.py", title="Plan", icon=":material/query_stats:", url_path="plan"),
    st.Page("costsim/ui/pages/optimize.py", title="Optimize", icon=":material/tune:", url_path="optimize"),
    st.Page("costsim/ui/pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("costsim/ui/pages/scenario.py", title="Scenario", icon=":material/description:", url_path="scenario"),
    st.Page("costsim/ui/pages/validation.py", title="Validation", icon=":material/fact_check:", url_path="validation"),
]

from costsim.ui.guard import page_boundary  # noqa: E402 - after set_page_config
from costsim.ui.widgets import new_page_run  # noqa: E402

new_page_run()  # this run's emptied number boxes and share-link notes, said by the page that draws them

# one error boundary for every page: an unexpected error shows one line with an error id, never a traceback
page_boundary(st.navigation(PAGES, position="top").run, st.error)
