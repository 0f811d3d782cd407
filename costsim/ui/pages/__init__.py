"""Page scripts run by app.py's st.navigation; each draws only under `if __name__ == "__main__"`."""
