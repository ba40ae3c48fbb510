fn main() {
    yew::Renderer::<pageflow_web::App>::new().render();
}
